// Writes into <dir> where the disk fills up (a tiny tmpfs) or the file size limit is low (ulimit -f): first small
// files that fit, then a checkpoint (its tensor bytes written natively) and a training_history.json (written from
// JS) too big to fit, each over its small version. Prints JSON: per big write the error (message, code, cause's message), the
// temporary files left, and whether the small version is still whole. test/atomic.test.ts runs it.
// usage: node full-disk-writer.mjs <dir>
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const { torch } = await import('../../dist/index.js');
const { HistoryFile } = await import('../../dist/lvm/train/history.js');

process.on('SIGXFSZ', () => {});  // past `ulimit -f`, write() then fails with EFBIG instead of killing the process
const dir = process.argv[2];
const ckpt = join(dir, 'model.pt');
const text = join(dir, 'training_history.json');
const history = new HistoryFile(text);
history.add({ epoch: 1, val_loss: 0.5 }, 0.5);
await torch.saveTorchFile({ epoch: 1, w: torch.ones([4]) }, ckpt);
await history.write();
const small = readFileSync(text, 'utf8');

const attempt = async (what, fn, intact) => {
  const r = { what };
  try {
    await fn();
    r.error = null;
  } catch (e) {
    r.error = { message: e.message, code: e.code ?? null, cause: e.cause?.message ?? null, name: e.constructor.name };
  }
  r.temps = readdirSync(dir).filter((f) => f.endsWith('.tmp'));
  r.intact = await intact();
  return r;
};
const results = [
  await attempt('checkpoint', () => torch.saveTorchFile({ epoch: 2, w: torch.ones([1 << 20]) }, ckpt),
    async () => { const c = await torch.load(ckpt); return c.epoch === 1 && c.w.sum().item() === 4; }),
  await attempt('history', () => {
    for (let e = 2; e <= 20_000; e++) history.add({ epoch: e, val_loss: 1 / e, note: 'x'.repeat(200) }, 1 / e);
    return history.write();
  }, async () => readFileSync(text, 'utf8') === small),
];
console.log(JSON.stringify(results));
