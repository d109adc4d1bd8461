// No input from JS aborts the process: every bad call throws a JS error of the right class whose message names
// the problem. Argument errors are TypeError (wrong type) or RangeError (a value out of range), libtorch's own
// errors a plain Error with code ERR_TORCH (ERR_TORCH_OUT_OF_MEMORY when an allocation fails) and libtorch's
// message. Calls that could take the process down are made in a child process, which must exit normally.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

import { beforeEach, describe, expect, it } from 'vitest';

import * as distributed from '../dist/torch/distributed/index.js';
import * as formats from '../dist/formats/index.js';
import * as root from '../dist/index.js';
import { torch } from '../dist/index.js';
import * as serve from '../dist/lvm/serve/index.js';

type ErrorClass = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

interface Case {
  what: string;
  run: () => unknown;
  type: ErrorClass;
  message: RegExp;
  code?: string;
}

function thrown(run: () => unknown): Error & { code?: string } {
  try {
    run();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected it to throw, and it returned');
}

function check({ run, type, message, code }: Case): void {
  const error = thrown(run);
  expect(error.constructor.name).toBe(type.name); // the exact class: a RangeError is not good enough for Error
  expect(error.message).toMatch(message);
  if (code) expect(error.code).toBe(code);
}

const m23 = (): torch.Tensor => torch.ones([2, 3]);
const cpuOnly = torch.cuda.deviceCount() === 0;

describe('one error model: every error class of the public API is a LvmtorchError with a code', () => {
  const classes = Object.entries({ ...root, ...formats, ...distributed, ...serve })
    .filter(([name, v]) => name.endsWith('Error') && typeof v === 'function' && name !== 'LvmtorchError') as [string, new (...a: never[]) => Error][];

  it('covers the error classes of every entry point', () => {
    expect(classes.map(([n]) => n).sort()).toEqual(expect.arrayContaining([
      'DatasetError', 'DistributedError', 'FileFormatError', 'LibtorchLoadError', 'NonFiniteLossError', 'NpyError',
      'PickleError', 'SafetensorsError', 'TorchFileError', 'TrainingError', 'ZipError']));
  });

  it.each(classes.map(([n]) => n))('%s extends LvmtorchError', (name) => {
    const cls = classes.find(([n]) => n === name)![1];
    expect(cls.prototype).toBeInstanceOf(root.LvmtorchError);
  });

  it('an instance has its class\'s name and a stable code; cause is kept', () => {
    const e = new root.DatasetError('no rows');
    expect([e.name, e.code, e.message, e instanceof Error]).toEqual(['DatasetError', 'ERR_DATASET', 'no rows', true]);
    const codes = [new formats.ZipError('x'), new formats.NpyError('x'), new root.TorchFileError('x'), new formats.PickleError('x')].map((x) => x.code);
    expect(codes).toEqual(['ERR_ZIP', 'ERR_NPY', 'ERR_TORCH_FILE', 'ERR_PICKLE']);
    const inner = new Error('disk');
    expect(new root.LvmtorchError('outer', 'ERR_X', { cause: inner }).cause).toBe(inner);
  });
});

describe('errors from libtorch keep its message, as Error with code ERR_TORCH', () => {
  const cases: Case[] = [
    { what: 'add with mismatched shapes', run: () => m23().add(torch.ones([4, 5])), type: Error, code: 'ERR_TORCH',
      message: /size of tensor a \(3\) must match the size of tensor b \(5\) at non-singleton dimension 1/ },
    { what: 'matmul with mismatched shapes', run: () => m23().matmul(torch.ones([4, 5])), type: Error, code: 'ERR_TORCH',
      message: /mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/ },
    { what: 'view to a shape of another size', run: () => m23().view(4, 2), type: Error, code: 'ERR_TORCH',
      message: /shape '\[4, 2\]' is invalid for input of size 6/ },
    { what: 'view with -1 that cannot fit', run: () => m23().view(-1, 4), type: Error, code: 'ERR_TORCH',
      message: /shape '\[-1, 4\]' is invalid for input of size 6/ },
    { what: 'indexSelect with a float index', run: () => m23().indexSelect(0, torch.tensor([0.5])), type: Error,
      code: 'ERR_TORCH', message: /index_select\(\): Expected dtype int32 or int64 for index/ },
    { what: 'gather out of range', run: () => m23().gather(1, torch.tensor([[5]])), type: Error, code: 'ERR_TORCH',
      message: /index 5 is out of bounds for dimension 1 with size 3/ },
    { what: 'backward through nothing that requires grad', run: () => torch.ones([1]).sum().backward(), type: Error,
      code: 'ERR_TORCH', message: /does not require grad/ },
    { what: 'backward with a gradient of the wrong shape', type: Error, code: 'ERR_TORCH',
      run: () => torch.ones([3]).requiresGrad_().mul(2).backward(torch.ones([4])),
      message: /got \[4\] but expected shape compatible with \[3\]/ },
    { what: 'an in-place op on a leaf that requires grad', run: () => torch.ones([3]).requiresGrad_().add_(1),
      type: Error, code: 'ERR_TORCH', message: /leaf Variable that requires grad is being used in an in-place operation/ },
    { what: 'integer remainder by zero', run: () => torch.tensor([5, 7]).remainder(0), type: Error, code: 'ERR_TORCH',
      message: /ZeroDivisionError/ },
    { what: 'an integer to a negative power', run: () => torch.tensor([2, 3]).pow(-1), type: Error, code: 'ERR_TORCH',
      message: /Integers to negative integer powers are not allowed/ },
    { what: 'chunk(0)', run: () => m23().chunk(0), type: Error, code: 'ERR_TORCH', message: /chunks.*greater than 0/ },
    { what: 'cat of nothing', run: () => torch.cat([]), type: Error, code: 'ERR_TORCH', message: /non-empty list/ },
    { what: 'assigning a grad of another shape', type: Error,
      run: () => { torch.ones([2]).requiresGrad_().grad = torch.ones([3]); },
      message: /assigned grad has shape \[3\], the tensor has \[2\]/ },
    { what: 'assigning a grad of another dtype', type: Error,
      run: () => { torch.ones([2]).requiresGrad_().grad = torch.ones([2], { dtype: 'float64' }); },
      message: /assigned grad is Double, the tensor is Float/ },
  ];
  it.each(cases)('$what', check);
});

describe('argument errors are TypeError or RangeError naming the argument', () => {
  const cases: Case[] = [
    // indices and dims out of range
    { what: 'select with an index out of range', run: () => m23().select(0, 5), type: RangeError,
      message: /index 5 out of range for tensor of size \[2, 3\] at dimension 0/ },
    { what: 'select with a dim out of range', run: () => m23().select(3, 0), type: RangeError,
      message: /Dimension out of range \(expected to be in range of \[-2, 1\], but got 3\)/ },
    { what: 'indexSelect with an index out of range', run: () => m23().indexSelect(0, torch.tensor([0, 7])),
      type: RangeError, message: /index out of range/ },
    { what: 'sum over a dim out of range', run: () => m23().sum(5), type: RangeError, message: /Dimension out of range/ },
    { what: 'prod over an empty dim list', run: () => m23().prod([] as unknown as number), type: RangeError,
      message: /prod reduces over one dim at a time/ },
    { what: 'view with a fractional size', run: () => torch.ones([4]).view(2.5, 2), type: RangeError,
      message: /shape must be an integer, got 2\.5/ },
    { what: 'slice with step 0', run: () => m23().slice(0, 0, 1, 0), type: RangeError, message: /slice step must be > 0/ },
    { what: 'arange with step 0', run: () => torch.arange(0, 10, 0), type: RangeError, message: /step must not be 0/ },
    { what: 'eye(-1)', run: () => torch.eye(-1), type: RangeError, message: /eye sizes must be >= 0/ },
    { what: 'a million threads', run: () => torch.setNumThreads(1e6), type: RangeError,
      message: /threads must be from 1 to 1024, got 1000000/ },
    // shapes
    { what: 'a negative shape entry', run: () => torch.zeros([2, -3]), type: RangeError,
      message: /shape\[1\] must be a non-negative integer, got -3/ },
    { what: 'a fractional shape entry', run: () => torch.ones([1.5]), type: RangeError,
      message: /shape\[0\] must be a non-negative integer, got 1\.5/ },
    { what: 'a NaN shape entry', run: () => torch.rand([NaN]), type: RangeError, message: /shape\[0\] .* got NaN/ },
    { what: 'a string shape entry', run: () => torch.zeros(['2'] as unknown as number[]), type: TypeError,
      message: /shape\[0\] must be a number, got the string "2"/ },
    { what: 'a shape that is not an array', run: () => torch.zeros(3 as unknown as number[]), type: TypeError,
      message: /shape must be an array/ },
    { what: 'a negative shape for flat data', run: () => torch.tensor(new Float32Array(2), { shape: [-1] }),
      type: RangeError, message: /shape\[0\] must be a non-negative integer/ },
    // devices and dtypes
    { what: "device 'gpu'", run: () => torch.zeros([2], { device: 'gpu' as torch.Device }), type: TypeError,
      message: /unknown device "gpu"; expected 'cpu', 'cuda' or 'cuda:N'/ },
    { what: "device 'cuda:x'", run: () => torch.ones([2], { device: 'cuda:x' as torch.Device }), type: TypeError,
      message: /unknown device "cuda:x"/ },
    { what: "to('gpu')", run: () => m23().to('gpu' as torch.Device), type: TypeError,
      message: /to\(\) takes a device \('cpu', 'cuda', 'cuda:N'\) or a dtype, got "gpu"/ },
    { what: "dtype 'float8'", run: () => torch.zeros([2], { dtype: 'float8' as torch.DType }), type: TypeError,
      message: /unknown dtype "float8"; expected one of uint8, int8, .*float32, float64, bool, bfloat16/ },
    { what: "torch.tensor with dtype 'float8'", run: () => torch.tensor([1], { dtype: 'float8' as torch.DType }),
      type: TypeError, message: /unknown dtype "float8"; expected one of/ },
    { what: "to({ dtype: 'float8' })", run: () => m23().to({ dtype: 'float8' as torch.DType }), type: TypeError,
      message: /unknown dtype "float8"/ },
    // nested arrays and buffers
    { what: 'a ragged nested array', run: () => torch.tensor([[1, 2], [3]]), type: RangeError,
      message: /data\[1\] has length 1, expected 2 \(the data must be rectangular\)/ },
    { what: 'a ragged array three deep', run: () => torch.tensor([[[1], [2]], [[3], [4, 5]]]), type: RangeError,
      message: /data\[1\]\[1\] has length 2, expected 1/ },
    { what: 'a number where a row should be', run: () => torch.tensor([[1, 2], 3] as number[][]), type: RangeError,
      message: /data\[1\] is not an array/ },
    { what: 'a row where a number should be', run: () => torch.tensor([[1, [2]]] as unknown as number[][]),
      type: RangeError, message: /data\[0\]\[1\] is an array/ },
    { what: 'a string among numbers', run: () => torch.tensor([1, 'x'] as unknown as number[]), type: TypeError,
      message: /element 1 of the data is string, not a number/ },
    { what: 'a buffer that is not whole float32s', run: () => torch.tensor(Buffer.alloc(6)), type: RangeError,
      message: /a buffer of 6 bytes is not a whole number of float32 elements \(4 bytes each\)/ },
    { what: 'a buffer too small for the shape', type: RangeError,
      run: () => torch.tensor(Buffer.alloc(8), { dtype: 'float32', shape: [3] }),
      message: /data holds 8 bytes but shape \[3\] of Float needs 12/ },
    { what: 'a typed array too large for the shape', run: () => torch.tensor(new Float64Array(4), { shape: [3] }),
      type: RangeError, message: /data holds 32 bytes but shape \[3\] of Double needs 24/ },
    { what: 'a shape far too large for the data', run: () => torch.tensor(new Float32Array(1), { shape: [2 ** 53 - 1] }),
      type: RangeError, message: /data holds 4 bytes but shape \[9007199254740991\] of Float needs 36028797018963964/ },
    { what: 'a shape whose byte size overflows', run: () => torch.tensor(Buffer.alloc(4), { shape: [2 ** 40, 2 ** 40] }),
      type: RangeError, message: /shape \[1099511627776, 1099511627776\] is too large for any data/ },
    { what: 'a Uint16Array without a dtype', run: () => torch.tensor(new Uint16Array(2)), type: TypeError,
      message: /Uint16Array is only read as raw float16 or bfloat16 bits: pass dtype/ },
    // autograd
    { what: 'backward() on a non-scalar without a gradient', run: () => torch.ones([3]).requiresGrad_().mul(2).backward(),
      type: RangeError, message: /backward\(\) without a gradient needs a tensor with one element, this one has shape \[3\]/ },
    { what: 'requiresGrad on an int tensor', run: () => torch.tensor([1, 2]).requiresGrad_(), type: TypeError,
      message: /only floating point tensors can require gradients, this one is Long/ },
    // values out
    { what: 'item() on three elements', run: () => torch.ones([3]).item(), type: RangeError,
      message: /item\(\) needs a tensor with one element, this one has 3/ },
    { what: 'toArray() of an int64 beyond 2^53', run: () => torch.tensor([2n ** 62n]).toArray(), type: RangeError,
      message: /element 0 \(4611686018427387904\) does not fit a JS number exactly; use toTypedArray\(\)/ },
    // not a Tensor where a Tensor is expected
    { what: 'a.add({})', run: () => m23().add({} as torch.Tensor), type: TypeError,
      message: /other must be a Tensor, a number or a boolean, got object/ },
    { what: 'a.add(null)', run: () => m23().add(null as unknown as number), type: TypeError, message: /got null/ },
    { what: "a.add('x')", run: () => m23().add('x' as unknown as number), type: TypeError, message: /got string/ },
    { what: 'a.matmul(3)', run: () => m23().matmul(3 as unknown as torch.Tensor), type: TypeError,
      message: /matmul needs a Tensor as its second argument, not a number/ },
    { what: 'a.matmul({})', run: () => m23().matmul({} as torch.Tensor), type: TypeError, message: /must be a Tensor/ },
    { what: 'indexSelect with an array', run: () => m23().indexSelect(0, [0] as unknown as torch.Tensor),
      type: TypeError, message: /expected a Tensor, got an array/ },
    { what: 'cat with a non-Tensor', run: () => torch.cat([torch.ones([2]), {} as torch.Tensor]), type: TypeError,
      message: /expected a Tensor, got object/ },
    { what: 'where with a non-Tensor', run: () => torch.where({} as torch.Tensor, m23(), m23()), type: TypeError,
      message: /expected a Tensor, got object/ },
    { what: 'new Tensor()', run: () => new torch.Tensor(0 as never, Symbol('x')), type: TypeError,
      message: /use torch.tensor\(data\) to make a Tensor/ },
  ];
  it.each(cases)('$what', check);
});

describe('CUDA on a CPU-only build', () => {
  const cases: Case[] = [
    { what: "zeros on 'cuda'", run: () => torch.zeros([2], { device: 'cuda' }), type: Error,
      message: /device 'cuda' is not available: this libtorch (is CPU-only|has CUDA but sees no GPU)/ },
    { what: "tensor() on 'cuda:0'", run: () => torch.tensor([1, 2], { device: 'cuda:0' }), type: Error,
      message: /device 'cuda:0' is not available/ },
    { what: "to('cuda')", run: () => m23().to('cuda'), type: Error, message: /device 'cuda' is not available/ },
    { what: 'cuda(3)', run: () => m23().cuda(3), type: Error, message: /device 'cuda:3' is not available/ },
  ];
  // A GPU here is no missing tool: these skip, saying so, under CI too.
  beforeEach((ctx) => {
    if (!cpuOnly) ctx.skip('this libtorch sees a CUDA device: the CPU-only errors cannot happen');
  });
  it.each(cases)('$what is a clear Error', check);
  it('is what torch.cuda says', () => {
    expect(torch.cuda.isAvailable()).toBe(false);
  });
});

// Values as PyTorch 1.13.1 computes them (checked with /usr/bin/python3 and Debian's python3-torch).
describe('NaN and Inf flow through ops as in PyTorch, without a crash', () => {
  const x = (): torch.Tensor => torch.tensor([1, NaN, 3]);
  const m = (): torch.Tensor => torch.tensor([[1, NaN], [2, 3]]);
  const cases: [string, () => unknown, unknown][] = [
    ['x + 1', () => x().add(1).toArray(), [2, NaN, 4]],
    ['sum', () => x().sum().item(), NaN],
    ['mean', () => x().mean().item(), NaN],
    ['max()', () => x().max().item(), NaN],
    ['min()', () => x().min().item(), NaN],
    ['amax', () => x().amax().item(), NaN],
    ['argmax: NaN is the largest', () => x().argmax().item(), 1],
    ['argmin: NaN is the smallest too', () => x().argmin().item(), 1],
    ['std', () => x().std().item(), NaN],
    ['norm', () => x().norm().item(), NaN],
    ['logsumexp', () => x().logsumexp(0).item(), NaN],
    ['softmax', () => x().softmax(0).toArray(), [NaN, NaN, NaN]],
    ['relu', () => x().relu().toArray(), [1, NaN, 3]],
    ['clamp(0, 2)', () => x().clamp(0, 2).toArray(), [1, NaN, 2]],
    ['maximum', () => x().maximum(torch.full([3], 5)).toArray(), [5, NaN, 5]],
    ['isnan', () => x().isnan().toArray(), [false, true, false]],
    ['x == x', () => x().eq(x()).toArray(), [true, false, true]],
    ['x != x', () => x().ne(x()).toArray(), [false, true, false]],
    ['matmul', () => m().matmul(torch.ones([2, 2])).toArray(), [[NaN, NaN], [5, 5]]],
    ['max over a dim', () => m().max(1).values.toArray(), [NaN, 3]],
    ['its indices', () => m().max(1).indices.toArray(), [1, 1]],
    ['0 / 0 and 1 / 0', () => torch.tensor([0, 1], { dtype: 'float32' }).div(0).toArray(), [NaN, Infinity]],
    ['int / 0 is true division', () => torch.tensor([1, 2]).div(0).toArray(), [Infinity, Infinity]],
    ['sqrt(-1), log(0)', () => [torch.tensor([-1.0]).sqrt().item(), torch.tensor([0.0]).log().item()], [NaN, -Infinity]],
    ['the gradient of sqrt at -1', () => {
      const leaf = torch.tensor([-1, 4], { dtype: 'float32' }).requiresGrad_();
      leaf.sqrt().sum().backward();
      return leaf.grad!.toArray();
    }, [NaN, 0.25]],
  ];
  it.each(cases)('%s', (_, run, expected) => {
    expect(run()).toEqual(expected); // toEqual holds NaN equal to NaN
  });

  it('normalize leaves a NaN row NaN and the others unit length', () => {
    const [nanRow, row] = m().normalize({ dim: 1 }).toArray() as number[][];
    expect(nanRow).toEqual([NaN, NaN]);
    expect(row[0]).toBeCloseTo(0.5547, 4);
    expect(row[1]).toBeCloseTo(0.8321, 4);
  });
});

// The calls below could kill a process (a huge allocation, an integer trap), so they run in a child, which
// prints what each one did as JSON and must exit normally.
function runChild(source: string, timeout = 60_000): { status: number | null; signal: string | null; out: any; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout });
  let out: unknown = null;
  try {
    out = JSON.parse(r.stdout.trim().split('\n').pop() ?? 'null');
  } catch {
    out = r.stdout;
  }
  return { status: r.status, signal: r.signal, out, stderr: r.stderr };
}

const index = new URL('../dist/index.js', import.meta.url).href;

describe('in a child process', () => {
  it('huge allocations throw out-of-memory errors, and integer traps are avoided', () => {
    // With overcommit_memory = 1 the kernel would grant 4 TB and the child would be killed while zeroing it:
    // only sizes beyond any address space are tried then.
    const overcommit = existsSync('/proc/sys/vm/overcommit_memory')
      ? readFileSync('/proc/sys/vm/overcommit_memory', 'utf8').trim() : '0';
    const child = runChild(`
      import { torch } from ${JSON.stringify(index)};
      const cases = {
        ${overcommit === '1' ? '' : "'zeros([1e12])': () => torch.zeros([1e12]),"}
        'zeros([1e15])': () => torch.zeros([1e15]),
        'ones([2**40, 2**40])': () => torch.ones([2 ** 40, 2 ** 40]),
        'INT64_MIN % -1': () => torch.tensor(new BigInt64Array([-(2n ** 63n), 7n])).remainder(-1).toArray(),
        'INT32_MIN % [-1]': () => torch.tensor(new Int32Array([-(2 ** 31), 7])).remainder(torch.tensor(new Int32Array([-1, -1]))).toArray(),
      };
      const out = {};
      for (const [name, run] of Object.entries(cases)) {
        try { out[name] = { value: run() }; }
        catch (e) { out[name] = { type: e.constructor.name, code: e.code, message: e.message }; }
      }
      console.log(JSON.stringify(out));`);
    expect(child.signal).toBeNull();
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const oom = { type: 'Error', code: 'ERR_TORCH_OUT_OF_MEMORY', message: expect.stringMatching(/can't allocate memory: you tried to allocate \d+ bytes/) };
    if (overcommit !== '1') expect(child.out['zeros([1e12])']).toEqual(oom);
    expect(child.out['zeros([1e15])']).toEqual(oom);
    expect(child.out['ones([2**40, 2**40])']).toEqual({ type: 'Error', code: 'ERR_TORCH', message: expect.stringMatching(/Storage size calculation overflowed/) });
    expect(child.out['INT64_MIN % -1']).toEqual({ value: [0, 0] });
    expect(child.out['INT32_MIN % [-1]']).toEqual({ value: [0, 0] });
  });

  // Every Tensor method and torch function, called with odd arguments on tensors of several kinds: each call
  // returns or throws an Error/TypeError/RangeError with a message, and the process lives to say so.
  it('survives every method called with odd arguments', () => {
    const child = runChild(`
      import { torch, Tensor } from ${JSON.stringify(index)};
      const receivers = [() => torch.tensor([[1.5, -2], [3, 4]]), () => torch.tensor([3, -1, 0]),
        () => torch.tensor([true, false]), () => torch.zeros([0, 3]), () => torch.tensor(3.5)];
      const odd = [undefined, null, {}, 'x', -1, 0, 1, 2, NaN, Infinity, 1e20, 0.5, [], [0], [-1], [5], true, 1n, () => 1];
      const tensors = () => [torch.tensor([1, 0]), torch.tensor([[0], [1]]), torch.tensor([true, false]), torch.zeros([0]), torch.tensor(-1)];
      const names = Object.getOwnPropertyNames(Tensor.prototype).filter((n) => !['constructor', 'dispose', 'markRegistered'].includes(n)
        && typeof Object.getOwnPropertyDescriptor(Tensor.prototype, n).value === 'function');
      const classes = {};
      const bad = [];
      let calls = 0;
      // An async method's rejection counts as a throw (and must not go unhandled).
      const pending = [];
      const record = (label, e) => {
        const type = e?.constructor?.name;
        classes[type] = (classes[type] ?? 0) + 1;
        if (!['Error', 'TypeError', 'RangeError'].includes(type) || !e.message) bad.push(label + ': ' + type + ' ' + e?.message);
      };
      const attempt = (label, run) => {
        calls++;
        try {
          torch.tidy(() => {
            const r = run();
            if (r instanceof Tensor) r.toArray();
            if (r instanceof Promise) pending.push(r.catch((e) => record(label, e)));
          });
        } catch (e) {
          record(label, e);
        }
      };
      for (const name of names) {
        for (const [i, make] of receivers.entries()) {
          const lists = [[], ...[...odd, ...tensors()].map((v) => [v])];
          for (const a of [0, 1, -1, 5, undefined, 'x']) for (const b of [0, -1, 5, undefined, NaN, [0], true, ...tensors()]) lists.push([a, b]);
          for (const args of lists) attempt(name + ' on receiver ' + i + ' with ' + args.map(String), () => make()[name](...args));
        }
      }
      for (const fn of ['tensor', 'zeros', 'ones', 'empty', 'rand', 'randn', 'full', 'arange', 'eye', 'cat', 'stack', 'where',
        'softmax', 'normalize', 'cosineSimilarity', 'zerosLike', 'manualSeed', 'setNumThreads', 'setBlasThreads', 'tidy', 'keep', 'noGrad']) {
        const lists = [[], ...odd.map((v) => [v]), [[2], 'x'], [[2], { dtype: 'x' }], [[2], { device: 'x' }], [[2], { dtype: 5 }],
          [[2], 1e20], [1e20, 1], [2, 1e20], [[torch.ones([2]), 1]], [[torch.ones([2]), torch.ones([3, 1])]]];
        for (const args of lists) attempt('torch.' + fn + ' with ' + args.map(String), () => torch[fn](...args));
      }
      await Promise.all(pending);
      console.log(JSON.stringify({ calls, classes, bad }));`);
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
    expect(child.out.bad).toEqual([]);
    expect(child.out.calls).toBeGreaterThan(50_000);
    console.log(`odd-argument sweep: ${child.out.calls} calls, thrown: ${JSON.stringify(child.out.classes)}`);
  });
});
