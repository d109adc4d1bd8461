// Reads the installed Debian documentation named in sources.json and writes one JSON line per document
// (a section or HTML page of prose) with its sentences in reading order.
//   node extract.mjs [out.jsonl]      (default: ../../artifacts/corpus/sentences.jsonl)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'htmlparser2';

const here = dirname(fileURLToPath(import.meta.url));
const config = JSON.parse(readFileSync(join(here, 'sources.json'), 'utf8'));
const out = resolve(process.argv[2] ?? join(here, '../../artifacts/corpus/sentences.jsonl'));
const { minWords, maxWords, maxChars, minSentences, minLetterShare } = config.filters;

// Code, tables, navigation, tables of contents and footnotes are not running prose; neither are the
// Sphinx signature lines (<dt>) or the permalinks that Sphinx and texinfo put into headings.
const SKIP_TAGS = new Set(['pre', 'table', 'script', 'style', 'nav', 'head', 'header', 'footer', 'dt', 'sup', 'math', 'svg', 'img']);
const SKIP_CLASSES = /(^|\s)(navheader|navfooter|docnav|toc|list-of-\w+|sphinxsidebar|related|footer|footnotes?|footnote-reference|highlight|headerlink|copiable-anchor|contents|shortcontents|nav-panel|legalnotice|index-entry-id)(\s|$)/;
const BLOCKS = new Set(['p', 'li', 'dd', 'dl', 'ul', 'ol', 'blockquote', 'div', 'section', 'body', 'html', 'br', 'hr']);

const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

function files(source) {
  const found = [];
  for (const pattern of source.files) {
    const dir = join(source.root, dirname(pattern));
    const re = new RegExp(`^${pattern.split('/').pop().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    for (const name of readdirSync(dir).sort()) {
      if (re.test(name) && !(source.exclude ?? []).includes(name)) found.push(join(dir, name));
    }
  }
  return found;
}

const skipped = (node) => SKIP_TAGS.has(node.name) || SKIP_CLASSES.test(node.attribs.class ?? '');
const textOf = (node) =>
  node.type === 'text' ? node.data : node.type === 'tag' && !skipped(node) ? (node.children ?? []).map(textOf).join('') : '';

// The page in reading order as headings (where documents are cut) and paragraphs: the text of a block
// element, inline markup (links, <em>, <code> naming a file inside a sentence) staying part of it.
function blocks(root) {
  const out = [];
  let text = '';
  const flush = () => {
    if (text.trim()) out.push({ text });
    text = '';
  };
  const walk = (node) => {
    if (node.type === 'text') text += node.data;
    if (node.type !== 'tag' && node.type !== 'root') return;
    if (/^h[1-6]$/.test(node.name)) {
      flush();
      out.push({ heading: Number(node.name[1]), text: textOf(node).replace(/\s+/g, ' ').trim() });
    } else if (node.type === 'tag' && skipped(node)) {
      flush(); // a code block or table ends the paragraph around it
    } else {
      const block = node.type === 'root' || BLOCKS.has(node.name);
      if (block) flush();
      for (const child of node.children ?? []) walk(child);
      if (block) flush();
    }
  };
  walk(root);
  flush();
  return out;
}

function keep(sentence) {
  const words = sentence.split(' ').length;
  if (words < minWords || words > maxWords || sentence.length > maxChars) return false;
  // Left-over code, paths, option lists and tables are mostly not letters.
  const visible = sentence.replace(/\s/g, '');
  const letters = visible.replace(/[^\p{L}]/gu, '').length;
  if (letters / visible.length < minLetterShare) return false;
  // A sentence starts with a capital (or a quote/parenthesis/digit) and ends as one.
  return /^[\p{Lu}\d"“‘'(]/u.test(sentence) && /[.!?:]["”’')]*$/.test(sentence);
}

function sentences(paragraph) {
  const flat = paragraph.replace(/\s+/g, ' ').trim();
  return [...segmenter.segment(flat)].map((s) => s.segment.trim()).filter(keep);
}

function extract(source, path) {
  const docs = [];
  let current = null;
  const start = (title) => {
    current = { title, sentences: [] };
    docs.push(current);
  };
  for (const b of blocks(parseDocument(readFileSync(path, 'utf8')))) {
    if (b.heading !== undefined) {
      if (!current || b.heading <= source.cut) start(b.text);
    } else {
      const kept = sentences(b.text);
      if (kept.length === 0) continue; // a banner or "Prev/Next" line must not open an untitled document
      if (!current) start('');
      current.sentences.push(...kept);
    }
  }
  return docs.filter((d) => d.sentences.length >= minSentences); // checked again once boilerplate is gone
}

function packageVersion(pkg) {
  return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
}

mkdirSync(dirname(out), { recursive: true });
const docs = [];
for (const source of config.sources) {
  const version = packageVersion(source.package);
  for (const path of files(source)) {
    for (const doc of extract(source, path)) docs.push({ source: source.id, package: source.package, version, file: path, ...doc });
  }
}
// Boilerplate ("New in version 3.3.", "Availability: Unix.") repeats across pages; it is not running prose
// and would make windows trivially predictable, so every copy of a sentence seen more than maxRepeats times goes.
const seen = new Map();
for (const d of docs) for (const s of d.sentences) seen.set(s, (seen.get(s) ?? 0) + 1);
const lines = [];
const counts = {};
for (const d of docs) {
  d.sentences = d.sentences.filter((s) => seen.get(s) <= config.filters.maxRepeats);
  if (d.sentences.length < minSentences) continue;
  lines.push(JSON.stringify(d));
  const c = (counts[d.source] ??= { version: d.version, documents: 0, sentences: 0 });
  c.documents += 1;
  c.sentences += d.sentences.length;
}
writeFileSync(out, lines.join('\n') + '\n');
let total = [0, 0];
for (const [id, c] of Object.entries(counts)) {
  console.log(`${id.padEnd(24)} ${c.version.padEnd(24)} ${String(c.documents).padStart(5)} documents ${String(c.sentences).padStart(7)} sentences`);
  total = [total[0] + c.documents, total[1] + c.sentences];
}
console.log(`${'total'.padEnd(49)} ${String(total[0]).padStart(5)} documents ${String(total[1]).padStart(7)} sentences -> ${out}`);
