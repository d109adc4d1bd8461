// One error model for sync and async calls: native/core/protect.cc makes every native error, whether a sync entry point
// throws it on the JS thread or an async job rejects with it from the compute or I/O lane, so the same bad input
// gives the same error class and the same `code` through both (the issue that asked for this found a shape error
// that was a RangeError async and an ERR_TORCH Error sync). Each family below that has a sync and an async entry
// point is called both ways with the same bad argument; the async-only ones are held to the same table.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  compositeLoss, datasets, models, NonFiniteLossError, scorePredictions, torch, trainStep, type Tensor, optim,
} from '../dist/index.js';
import { DistributedError, World } from '../dist/torch/distributed/index.js';
import { freePort } from '../dist/torch/distributed/launch.js';
import { readStorages, readStoragesSync, type StorageRead } from '../dist/torch/io/storage-io.js';
import { native } from '../dist/torch/native.js';
import { rawOf } from '../dist/torch/tensor.js';

interface Failure {
  type: string;
  code: unknown;
  message: string;
  cause?: { type: string; code: unknown };
}

function describeError(e: unknown): Failure {
  const err = e as Error & { code?: unknown; cause?: Error & { code?: unknown } };
  return {
    type: err.constructor.name,
    code: err.code,
    message: err.message,
    ...(err.cause !== undefined && { cause: { type: err.cause.constructor.name, code: err.cause.code } }),
  };
}

/** What `run` threw or rejected with; fails the test if it succeeded. */
async function failure(run: () => unknown): Promise<Failure> {
  try {
    await run();
  } catch (e) {
    return describeError(e);
  }
  throw new Error('expected it to fail, and it succeeded');
}

interface Pair {
  what: string;
  sync: () => unknown;
  async: () => Promise<unknown>;
  type: string;
  code: string;
  message: RegExp;
}

// The same class, code and cause both ways; each message says what `message` says (an entry point may name
// itself or its argument in it), without libtorch's C++ backtrace.
async function checkPair({ sync, async, type, code, message }: Pair): Promise<void> {
  const s = await failure(sync);
  const a = await failure(async);
  const { message: sm, ...sRest } = s;
  const { message: am, ...aRest } = a;
  expect(aRest).toEqual(sRest);
  expect([s.type, s.code]).toEqual([type, code]);
  for (const m of [sm, am]) {
    expect(m).toMatch(message);
    expect(m).not.toMatch(/Exception raised from|frame #/);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-errors-async-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const D = 8;
const model: models.NativeModel = models.gru({ inputDim: D, outputDim: D, dModel: 8, numLayers: 1 });
const optimizer = new optim.AdamW(model.parameters());
const disposed = (): Tensor => {
  const t = torch.randn([2, 5, D]);
  t.dispose();
  return t;
};
const x = (): Tensor => torch.randn([2, 5, D]);
const y = (): Tensor => torch.randn([2, D]);

describe('a model forward: predict() and predictAsync()', () => {
  const pairs: Pair[] = [
    { what: 'x of the wrong shape', type: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /x must be \[batch, context, 8\], got \[2, 5, 7\]/,
      sync: () => model.predict(torch.randn([2, 5, 7])), async: () => model.predictAsync(torch.randn([2, 5, 7])) },
    { what: 'x of the wrong dtype', type: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /x is Double but the model is Float/,
      sync: () => model.predict(x().to('float64')), async: () => model.predictAsync(x().to('float64')) },
    { what: 'a disposed x', type: 'Error', code: 'ERR_DISPOSED', message: /x was disposed and can no longer be used/,
      sync: () => model.predict(disposed()), async: () => model.predictAsync(disposed()) },
  ];
  it.each(pairs)('$what', checkPair);
});

// The sync counterpart of the native train step (forward, the fused loss) against trainStep() off the JS thread.
function syncStep(xs: Tensor, ys: Tensor): unknown {
  return torch.tidy(() => compositeLoss(model.forward(xs, { raw: true }).raw, ys));
}

describe('the composite loss and a train step: forward + compositeLoss() and trainStep()', () => {
  const pairs: Pair[] = [
    { what: 'y of the wrong shape', type: 'RangeError', code: 'ERR_OUT_OF_RANGE',
      message: /compositeLoss: target must have pred_raw's shape \[2, 8\], got \[2, 7\]/,
      sync: () => syncStep(x(), torch.randn([2, 7])), async: () => trainStep(model, optimizer, x(), torch.randn([2, 7])) },
    { what: 'x of the wrong shape', type: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /x must be \[batch, context, 8\]/,
      sync: () => syncStep(torch.randn([2, 5, 3]), y()), async: () => trainStep(model, optimizer, torch.randn([2, 5, 3]), y()) },
    { what: 'x of the wrong dtype', type: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /x is Double but the model is Float/,
      sync: () => syncStep(x().to('float64'), y()), async: () => trainStep(model, optimizer, x().to('float64'), y()) },
    { what: 'y of the wrong dtype', type: 'RangeError', code: 'ERR_OUT_OF_RANGE',
      message: /compositeLoss: pred_raw and target must share one floating dtype, got Float and Double/,
      sync: () => syncStep(x(), y().to('float64')), async: () => trainStep(model, optimizer, x(), y().to('float64')) },
    { what: 'a disposed y', type: 'Error', code: 'ERR_DISPOSED', message: /^(y|target) was disposed and can no longer be used$/,
      sync: () => syncStep(x(), disposed()), async: () => trainStep(model, optimizer, x(), disposed()) },
  ];
  it.each(pairs)('$what', checkPair);

  it('a NaN target: NonFiniteLossError both ways, the native error kept as its cause', async () => {
    const nan = (): Tensor => torch.tensor([[NaN, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]]);
    const s = await failure(() => syncStep(x(), nan()));
    const a = await failure(() => trainStep(model, optimizer, x(), nan()));
    expect(a).toEqual(s);
    expect(s).toMatchObject({ type: 'NonFiniteLossError', code: 'ERR_LOSS_NOT_FINITE', cause: { type: 'Error', code: 'ERR_LOSS_NOT_FINITE' } });
    expect(s.message).toMatch(/target has 1 NaN and 0 infinite elements/);
    const e = await trainStep(model, optimizer, x(), nan()).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NonFiniteLossError);
  });
});

describe('evaluation: scorePredictions() (async only) against the sync ops', () => {
  it('a libtorch error inside the job is the Error a sync op throws for it', () => checkPair({
    what: 'pred float64, target float32', type: 'Error', code: 'ERR_TORCH', message: /same dtype|expected scalar type/,
    sync: () => torch.randn([4, D], { dtype: 'float64' }).matmul(torch.randn([D, 4])),
    async: () => scorePredictions(torch.randn([4, D], { dtype: 'float64' }), torch.randn([4, D])),
  }));

  it('a disposed pred: ERR_DISPOSED, as a sync op on it', async () => {
    const s = await failure(() => disposed().add(1));
    const a = await failure(() => scorePredictions(disposed(), torch.randn([4, D])));
    expect([a.type, a.code]).toEqual([s.type, s.code]);
    expect([s.type, s.code]).toEqual(['Error', 'ERR_DISPOSED']);
  });

  it('a std::invalid_argument thrown off the JS thread is the RangeError one thrown on it is', async () => {
    // Past lib/lvm/train/metrics.ts's own checks, to the native score's (train::score throws std::invalid_argument).
    const a = await failure(() => native().scoreAsync(rawOf(torch.randn([4, D])), rawOf(torch.randn([3, D]))));
    const s = await failure(() => model.predict(torch.randn([2, 5, 7]))); // predictor.cc throws it too
    expect([a.type, a.code]).toEqual([s.type, s.code]);
    expect(a).toMatchObject({ type: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'pred and target must both be [N, D], got [4, 8] and [3, 8]' });
  });
});

describe('storages from a file: the sync and the async native reader', () => {
  const reads = (t: Tensor, nbytes = 16): StorageRead[] => [{ tensor: t, position: 0, nbytes, crc32: null }];
  const withFd = async (path: string, run: (fd: number) => unknown): Promise<unknown> => {
    const fd = openSync(path, 'r');
    try {
      return await run(fd);
    } finally {
      closeSync(fd);
    }
  };
  writeFileSync(join(dir, 'bytes'), Buffer.alloc(64, 1));
  const pairs: Pair[] = [
    { what: 'a directory: the failing read', type: 'Error', code: 'ERR_TORCH', message: /^read at offset 0: Is a directory$/,
      sync: () => withFd(dir, (fd) => readStoragesSync(fd, reads(torch.zeros([4])))),
      async: () => withFd(dir, (fd) => readStorages(fd, reads(torch.zeros([4])))) },
    { what: 'a storage too small for the read', type: 'RangeError', code: 'ERR_OUT_OF_RANGE',
      message: /^readStorages(Async)?: a storage of 16 bytes cannot hold 32$/,
      sync: () => withFd(join(dir, 'bytes'), (fd) => readStoragesSync(fd, reads(torch.zeros([4]), 32))),
      async: () => withFd(join(dir, 'bytes'), (fd) => readStorages(fd, reads(torch.zeros([4]), 32))) },
    { what: 'a disposed tensor', type: 'Error', code: 'ERR_DISPOSED', message: /was disposed and can no longer be used$/,
      sync: () => withFd(join(dir, 'bytes'), (fd) => readStoragesSync(fd, reads(disposed()))),
      async: () => withFd(join(dir, 'bytes'), (fd) => readStorages(fd, reads(disposed()))) },
    { what: 'places that are no Float64Array (the raw addon)', type: 'TypeError', code: 'ERR_INVALID_ARG_TYPE',
      message: /^readStorages(Async)?: places must be a Float64Array$/,
      sync: () => withFd(join(dir, 'bytes'), (fd) => native().readStorages(fd, [rawOf(torch.zeros([4]))], new Float32Array(3) as never, 1)),
      async: () => withFd(join(dir, 'bytes'), (fd) => native().readStoragesAsync(fd, [rawOf(torch.zeros([4]))], new Float32Array(3) as never, 1)) },
  ];
  it.each(pairs)('$what', checkPair);

  it('a checkpoint cut short: loadTorchFileSync() and loadTorchFile() fail alike', async () => {
    const file = join(dir, 'cut.pt');
    await torch.saveTorchFile({ w: torch.randn([256]) }, file);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 300)); // into the central directory and the last record
    const s = await failure(() => torch.loadTorchFileSync(file));
    const a = await failure(() => torch.loadTorchFile(file));
    expect(a).toEqual(s);
    expect(s.code).toMatch(/^ERR_/);
  });
});

describe('the async-only entry points use the same table', () => {
  it('bank search: a k out of range is RangeError ERR_OUT_OF_RANGE, a disposed bank ERR_DISPOSED', async () => {
    const bank = torch.randn([10, D]);
    expect(await failure(() => native().bankSearchAsync(rawOf(bank), rawOf(torch.randn([2, D])), 30)))
      .toMatchObject({ type: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: "k must be from 1 to the bank's size" });
    const gone = torch.randn([10, D]);
    gone.dispose();
    expect(await failure(() => native().bankSearchAsync(rawOf(gone), rawOf(torch.randn([2, D])), 3)))
      .toMatchObject({ type: 'Error', code: 'ERR_DISPOSED' });
  });

  it('a process group: a disposed tensor rejects with ERR_DISPOSED, a root out of range with ERR_OUT_OF_RANGE', async () => {
    const world = await World.init({ rank: 0, worldSize: 1, masterPort: await freePort(), timeoutMs: 30_000 });
    try {
      const gone = torch.ones([3]);
      gone.dispose();
      const p = world.allReduce([gone]); // rejects, does not throw
      expect(await failure(() => p)).toMatchObject({ type: 'Error', code: 'ERR_DISPOSED' });
      expect(await failure(() => world.broadcast([torch.ones([3])], 5)))
        .toMatchObject({ type: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /root must be a rank in \[0, 0\], got 5/ });
    } finally {
      world.close();
    }
  });

  it('a rendezvous nobody joins: DistributedError, the native error kept as its cause', async () => {
    const e = await failure(() => World.init({ rank: 1, worldSize: 2, masterPort: 1, timeoutMs: 500 }));
    expect(e).toMatchObject({ type: 'DistributedError', code: 'ERR_DISTRIBUTED', cause: { type: 'Error', code: 'ERR_DISTRIBUTED' } });
    await expect(World.init({ rank: 1, worldSize: 2, masterPort: 1, timeoutMs: 500 })).rejects.toBeInstanceOf(DistributedError);
  }, 30_000);
});

// What TypeScript finds disposed (a model, an optimiser, a dataset, a tensor given to torch.save) carries the code the
// native addon gives a freed tensor, as a DisposedError, sync and async alike.
describe('disposed objects caught in TypeScript: DisposedError, ERR_DISPOSED', () => {
  it('a model, an optimiser, a dataset, a tensor saved', async () => {
    const m = models.gru({ inputDim: D, outputDim: D, dModel: 8, numLayers: 1 });
    const o = new optim.AdamW(m.parameters());
    o.dispose();
    const gone = { type: 'DisposedError', code: 'ERR_DISPOSED' };
    expect(await failure(() => trainStep(m, o, x(), y()))).toMatchObject({ ...gone, message: /optimizer was disposed/ });
    m.dispose();
    expect(await failure(() => m.predict(x()))).toMatchObject({ ...gone, message: /model was disposed/ });
    expect(await failure(() => m.predictAsync(x()))).toMatchObject({ ...gone, message: /model was disposed/ });
    const ds = datasets.fromVectors(torch.randn([12, D]), new Array(12).fill(0));
    ds.dispose();
    expect(await failure(() => ds.size)).toMatchObject({ ...gone, message: /Dataset has been disposed/ });
    expect(await failure(() => torch.save({ w: disposed() }, join(dir, 'gone.pt')))).toMatchObject({ ...gone, message: /disposed tensor/ });
  });
});
