// The second corpus, another kind of text: the King James Bible (public domain), as Debian ships it in
// bible-kjv-text and prints it with bible-kjv's `bible` program. One JSON line per chapter (a document) with its
// verses (the sentences) in reading order, in extract.mjs's format.
//   node extract-kjv.mjs [out.jsonl]      (default: ../../artifacts/corpus-kjv/sentences.jsonl)
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '../../artifacts/corpus-kjv/sentences.jsonl'));
const version = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'bible-kjv-text'], { encoding: 'utf8' });

// Unformatted: a heading line per chapter ("Genesis 1", "1 Samuel 3", "Song of Solomon 2"), then one line per verse
// ("  12 And God said, ...", verse numbers right-aligned: "100 ..." has no leading space).
const HEADING = /^(?:[123] )?[A-Z][A-Za-z ]* \d+$/;
const text = execFileSync('bible', ['-l100000', 'Gen1:1-Rev22:21'], { encoding: 'utf8', maxBuffer: 64 << 20 });
const chapters = [];
for (const line of text.split('\n')) {
  if (HEADING.test(line)) {
    chapters.push({ title: line, sentences: [] });
    continue;
  }
  const verse = /^\s*\d+\s+(.*\S)\s*$/.exec(line);
  if (verse) chapters.at(-1).sentences.push(verse[1]);
  else if (line.trim()) throw new Error(`extract-kjv: neither a heading nor a verse: ${JSON.stringify(line)}`);
}
const docs = chapters.filter((c) => c.sentences.length >= 8).map((c) => ({
  source: 'kjv', package: 'bible-kjv-text', version, file: '/usr/lib/bible.data', title: c.title, sentences: c.sentences,
}));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
const n = docs.reduce((s, d) => s + d.sentences.length, 0);
console.log(`${docs.length} chapters of >= 8 verses (of ${chapters.length}), ${n} verses -> ${out}`);
