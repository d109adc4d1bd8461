// Fuzzing the readers with real files: thousands of mutated checkpoints (zip and legacy torch.save files, the
// pickle inside a valid zip, .npz, .npy, .safetensors) must each load or end in one of the readers' own errors,
// promptly: never a crash of the process, a hang, an engine error (stack overflow, invalid array length) or an
// error without a message. Seeded, so a failure names a case that can be replayed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { torch } from '../dist/index.js';
import { save } from '../dist/io/load.js';
import { loadNpy, NpyError } from '../dist/io/npy.js';
import { loadNpz } from '../dist/io/npz.js';
import { PickleError } from '../dist/io/pickle/index.js';
import { loadSafetensors, SafetensorsError } from '../dist/io/safetensors.js';
import { loadTorchBuffer, TorchFileError } from '../dist/io/torch-file.js';
import { ZipError } from '../dist/io/zip.js';
import { PYTHON, pythonTorchMissing } from './helpers/python.js';
import { fuzz as fuzzWith, mutate as mutateWith, pickleOf } from './helpers/fuzz.js';

const OWN_ERRORS = [TorchFileError, ZipError, PickleError, NpyError, SafetensorsError];
const MAX_MS_PER_CASE = 2000;
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x2e /* STOP */, 0x28 /* MARK */, 0x63 /* GLOBAL */, 0x52 /* REDUCE */];

const MUTATIONS = {
  interesting: INTERESTING,
  // a 4-byte field (a length, an offset) made to lie
  field: (b: Buffer, pick: (n: number) => number) => b.writeUInt32LE([0xffffffff, 0x7fffffff, 0, 1, pick(2 ** 32)][pick(5)], pick(Math.max(1, b.length - 4))),
  slice: 64,
};
const mutate = (src: Buffer, random: () => number): Buffer => mutateWith(src, random, MUTATIONS);
const fuzz = (name: string, seed: number, cases: number, make: (random: () => number) => Buffer, read: (b: Buffer) => unknown) =>
  fuzzWith(name, seed, cases, make, read, OWN_ERRORS, MAX_MS_PER_CASE);

// A checkpoint like the seed's: a state dict, an AdamW-like state, numbers, strings, nested containers, views.
async function checkpoint(path: string): Promise<Buffer> {
  const w = torch.randn([8, 6]);
  await save({
    epoch: 3, val_loss: 0.25, model_state_dict: { 'input_proj.weight': w, 'input_proj.bias': torch.zeros([8]), 'head.0.weight': w.t() },
    optimizer_state_dict: { state: { 0: { step: torch.tensor([2]), exp_avg: torch.ones([8, 6]) } }, param_groups: [{ lr: 1e-3, params: [0] }] },
    args: { model: 'gru', layers: [1, 2, 3], nested: { deep: [[1], [2, [3]]] } },
    ids: torch.arange(5, undefined, 1, { dtype: 'int64' }), flags: torch.tensor([true, false]),
  }, path);
  return readFileSync(path);
}

describe('mutated files end in a clear error or a value, never a crash or a hang', () => {
  let pt: Buffer;

  beforeAll(async () => {
    pt = await checkpoint(join(dir, 'ckpt.pt'));
  });

  it('raw bytes of a zip checkpoint (the zip layer: headers, offsets, CRCs)', () => {
    fuzz('zip .pt', 1, 1500, (r) => mutate(pt, r), (b) => loadTorchBuffer(b));
  });

  it('the pickle inside a valid zip (the unpickler and the torch layer)', () => {
    const { pickle, rezip } = pickleOf(pt, join(dir, 'rezip.pt'));
    const out = fuzz('pickle in .pt', 2, 2000, (r) => rezip(mutate(pickle, r)), (b) => loadTorchBuffer(b));
    expect(out.errors.PickleError ?? 0).toBeGreaterThan(0); // the mutations did reach the unpickler
  });

  const noPython = pythonTorchMissing();
  it.skipIf(noPython)('a legacy (pre-1.6) checkpoint Python wrote (no CRC in the way)', () => {
    const path = join(dir, 'legacy.pt');
    const r = spawnSync(PYTHON, ['-c', `import torch; torch.manual_seed(0); m = torch.nn.GRU(4, 3); ` +
      `torch.save({'sd': m.state_dict(), 'epoch': 2, 'v': m.weight_ih_l0[1:, ::2]}, ${JSON.stringify(path)}, _use_new_zipfile_serialization=False)`]);
    expect(r.status, String(r.stderr)).toBe(0);
    const legacy = readFileSync(path);
    fuzz('legacy .pt', 3, 1500, (rand) => mutate(legacy, rand), (b) => loadTorchBuffer(b));
  });

  it('.npz, .npy and .safetensors files', async () => {
    const t = torch.randn([3, 4]);
    await save({ a: t, b: torch.arange(3, undefined, 1, { dtype: 'int32' }) }, join(dir, 'x.npz'), { compress: true });
    await save(t, join(dir, 'x.npy'));
    await save({ a: t, b: torch.tensor([true]) }, join(dir, 'x.safetensors'), { metadata: { k: 'v' } });
    const npz = readFileSync(join(dir, 'x.npz'));
    const npy = readFileSync(join(dir, 'x.npy'));
    const st = readFileSync(join(dir, 'x.safetensors'));
    fuzz('npz', 4, 600, (r) => mutate(npz, r), (b) => loadNpz(b));
    fuzz('npy', 5, 600, (r) => mutate(npy, r), (b) => loadNpy(b));
    fuzz('safetensors', 6, 600, (r) => mutate(st, r), (b) => loadSafetensors(b).tensors);
  });
});
