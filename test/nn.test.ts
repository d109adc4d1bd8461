// torch.nn in TypeScript against PyTorch: Module's registration, names, state dicts, modes and devices; every layer's
// outputs and gradients (input's and parameters') against the PyTorch twin loaded strictly from our state dict
// (test/python/nn_reference.py, through a torch.save file both ways); torch.nn.functional the same way; torch.nn.init
// and the layers' default initialisation against PyTorch's from the same seed (the same generator, so the same
// numbers), and their statistics against the distributions PyTorch documents.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { models, nn, optim, torch, type Tensor } from '../dist/index.js';
import { needPython, pythonTorchMissing, runPython } from './helpers/python.js';

const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-nn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return a.double().sub(b.double()).abs().max().item() as number;
}

// ---- Module's semantics ----

class Block extends nn.Module {
  // A class field first, then constructor assignments: registration follows assignment order.
  norm = new nn.LayerNorm(4);
  fc: nn.Linear;
  scale: nn.Parameter;
  #secret = 3; // a private field is the class's own, never a parameter
  constructor() {
    super();
    this.fc = new nn.Linear(4, 4);
    this.scale = new nn.Parameter(torch.ones([1]));
    this.registerBuffer('steps', torch.zeros([1]));
    this.registerBuffer('cache', torch.zeros([2]), { persistent: false });
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.norm.forward(x)).mul(this.scale).mul(this.#secret);
  }
}

class Net extends nn.Module {
  first = new Block();
  layers = new nn.ModuleList([new nn.Linear(4, 3), new nn.Linear(3, 2, { bias: false })]);
  head: nn.Sequential;
  constructor() {
    super();
    this.head = new nn.Sequential(new nn.Linear(2, 2), new nn.GELU(), new nn.Dropout(0.1));
  }
  forward(x: Tensor): Tensor {
    let y = this.first.forward(x);
    for (const l of this.layers) y = (l as nn.Linear).forward(y);
    return this.head.forward(y);
  }
}

describe('nn.Module', () => {
  it('registers parameters, buffers and submodules in assignment order, with PyTorch\'s dotted names', () => {
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'first.scale', 'first.norm.weight', 'first.norm.bias', 'first.fc.weight', 'first.fc.bias',
      'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'head.0.weight', 'head.0.bias',
    ]);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['first.steps', 'first.cache']);
    expect(Object.keys(net.stateDict())).toEqual([
      'first.scale', 'first.steps', 'first.norm.weight', 'first.norm.bias', 'first.fc.weight', 'first.fc.bias',
      'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'head.0.weight', 'head.0.bias',
    ]);
    expect(net.namedChildren().map(([n]) => n)).toEqual(['first', 'layers', 'head']);
    expect(net.namedModules().map(([n]) => n)).toEqual(['', 'first', 'first.norm', 'first.fc', 'layers', 'layers.0',
      'layers.1', 'head', 'head.0', 'head.1', 'head.2']);
    expect(net.numParameters()).toBe(1 + 4 + 4 + 16 + 4 + 12 + 3 + 6 + 4 + 2);
    expect(net.forward(torch.randn([5, 4])).shape).toEqual([5, 2]);
  });

  it('counts a shared parameter once in parameters() and under each name in stateDict(), as PyTorch', () => {
    class Tied extends nn.Module {
      a = new nn.Linear(3, 3);
      b = new nn.Linear(3, 3);
      constructor() {
        super();
        this.b.weight = this.a.weight;
      }
      forward(x: Tensor): Tensor {
        return this.b.forward(this.a.forward(x));
      }
    }
    const m = new Tied();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['a.weight', 'a.bias', 'b.bias']);
    expect(Object.keys(m.stateDict())).toEqual(['a.weight', 'a.bias', 'b.weight', 'b.bias']);
  });

  it('loadStateDict: one error naming every missing and unexpected key and shape mismatch, and nothing changed', () => {
    const net = new Net();
    const sd = new Net().stateDict();
    const before = net.stateDict();
    const bad: Record<string, unknown> = { ...sd, 'first.fc.weight': torch.zeros([4, 5]), extra: torch.zeros([1]) };
    delete bad['head.0.bias'];
    let err: Error | undefined;
    try {
      net.loadStateDict(bad);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(nn.StateDictError);
    expect(err).toMatchObject({ code: 'ERR_STATE_DICT' });
    expect(err!.message).toMatch(/Error\(s\) in loading state_dict for Net/);
    expect(err!.message).toMatch(/Unexpected key\(s\) in state_dict: "extra"/);
    expect(err!.message).toMatch(/Missing key\(s\) in state_dict: "head.0.bias"/);
    expect(err!.message).toMatch(/size mismatch for first.fc.weight: copying a param with shape \[4, 5\] from checkpoint, the shape in current model is \[4, 4\]/);
    for (const [k, t] of Object.entries(net.stateDict())) expect(maxDiff(t, before[k]), k).toBe(0);
    // strict: false loads what fits and reports the rest; a shape mismatch is still an error.
    const partial: Record<string, unknown> = { ...sd, extra: torch.zeros([1]) };
    delete partial['head.0.bias'];
    expect(net.loadStateDict(partial, { strict: false })).toEqual({ missingKeys: ['head.0.bias'], unexpectedKeys: ['extra'] });
    expect(maxDiff(net.first.fc.weight, sd['first.fc.weight'])).toBe(0);
    expect(() => net.loadStateDict({ 'first.fc.weight': torch.zeros([1]) }, { strict: false })).toThrow(/size mismatch/);
    // Names from a file never reach the prototype.
    const hostile = JSON.parse('{"__proto__": 1, "constructor": 2}') as Record<string, unknown>;
    expect(() => net.loadStateDict(hostile)).toThrow(/Unexpected key\(s\) in state_dict: "__proto__", "constructor"/);
  });

  it('train()/eval() reach every module; to() casts in place, keeping the tensors an optimiser holds', () => {
    const net = new Net();
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
    const params = net.parameters();
    const opt = new optim.SGD(params, { lr: 0.1 });
    net.to('float64');
    expect(net.parameters()).toEqual(params);
    expect(params.every((p) => p.dtype === 'float64')).toBe(true);
    expect(net.buffers().every((b) => b.dtype === 'float64')).toBe(true);
    const loss = net.forward(torch.randn([3, 4], { dtype: 'float64' })).sum();
    loss.backward();
    const w = net.first.fc.weight.clone();
    opt.step();
    expect(maxDiff(net.first.fc.weight, w)).toBeGreaterThan(0);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
    expect(() => net.to('int64' as never)).toThrow(/only accepts floating point dtypes/);
  });

  it('apply() visits children first; requiresGrad_() freezes; toString() is PyTorch\'s repr; dispose() frees all', () => {
    const seen: string[] = [];
    const seq = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU());
    seq.apply((m) => seen.push(m.constructor.name));
    expect(seen).toEqual(['Linear', 'ReLU', 'Sequential']);
    seq.requiresGrad_(false);
    expect(seq.parameters().every((p) => !p.requiresGrad)).toBe(true);
    expect(seq.toString()).toBe('Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)');
    const params = seq.parameters();
    seq.dispose();
    expect(params.every((p) => p.isDisposed)).toBe(true);
    expect(seq.parameters()).toEqual([]);
  });

  it('containers: Sequential from a record, ModuleList and ModuleDict by index and key', () => {
    const seq = new nn.Sequential({ fc: new nn.Linear(2, 2), act: new nn.Tanh() });
    expect(Object.keys(seq.stateDict())).toEqual(['fc.weight', 'fc.bias']);
    expect(seq.at(-1)).toBeInstanceOf(nn.Tanh);
    const list = new nn.ModuleList().append(new nn.Identity()).append(new nn.SiLU());
    expect(list.length).toBe(2);
    expect([...list].map((m) => m.constructor.name)).toEqual(['Identity', 'SiLU']);
    expect(() => list.at(2)).toThrow(RangeError);
    const dict = new nn.ModuleDict({ enc: new nn.Linear(2, 2) });
    dict.set('dec', new nn.Linear(2, 1));
    expect(dict.keys()).toEqual(['enc', 'dec']);
    expect(Object.keys(dict.stateDict())).toEqual(['enc.weight', 'enc.bias', 'dec.weight', 'dec.bias']);
    expect(() => dict.set('forward', new nn.Identity())).toThrow(/attribute "forward" already exists/);
    expect(() => dict.set('a.b', new nn.Identity())).toThrow(/can't be empty or contain "."/);
  });

  it('a Parameter is a new handle on its tensor\'s memory that requires grad, and outlives tidy()', () => {
    const t = torch.zeros([3]);
    const p = torch.tidy(() => new nn.Parameter(t));
    expect(p.isDisposed).toBe(false);
    expect(p.requiresGrad).toBe(true);
    expect(t.requiresGrad).toBe(false);
    expect(p.sharesStorageWith(t)).toBe(true);
    expect(new nn.Parameter(t, false).requiresGrad).toBe(false);
    expect(() => new nn.Parameter([1, 2] as never)).toThrow(TypeError);
  });
});

// ---- against PyTorch ----

interface Case {
  name: string;
  py: Record<string, unknown>;
  /** Our module, or our function of the inputs. */
  ours: nn.Module | ((...inputs: Tensor[]) => Tensor);
  inputs: Tensor[];
  /** How a module is called on the inputs, where not forward(...inputs). */
  call?: (m: nn.Module, inputs: Tensor[]) => unknown;
  /** How many leading inputs take gradients (the rest are indices or masks). Default: all floating ones. */
  gradInputs?: number;
  train?: boolean;
}

interface PyResult {
  output: Tensor;
  inputGrads: (Tensor | null)[];
  paramGrads: Record<string, Tensor>;
  values: Tensor[];
  state: Record<string, Tensor>;
}

const F = nn.functional;
const r = (...shape: number[]): Tensor => torch.randn(shape);

function moduleCases(): Case[] {
  torch.manualSeed(7);
  const mod = (name: string, ctor: string, args: unknown[], kwargs: Record<string, unknown>, ours: nn.Module, inputs: Tensor[],
    extra: Partial<Case> & { pairState?: boolean; positional?: number; callKwargs?: Record<string, unknown> } = {}): Case => ({
    name, ours, inputs, ...extra,
    py: extra.py ?? { kind: 'module', ctor, args, kwargs, train: extra.train ?? false, pairState: extra.pairState, positional: extra.positional, callKwargs: extra.callKwargs, gradInputs: extra.gradInputs },
  });
  return [
    mod('linear', 'Linear', [6, 5], {}, new nn.Linear(6, 5), [r(4, 6)]),
    mod('linear-3d-nobias', 'Linear', [6, 3], { bias: false }, new nn.Linear(6, 3, { bias: false }), [r(2, 4, 6)]),
    mod('linear-1d', 'Linear', [6, 2], {}, new nn.Linear(6, 2), [r(6)]),
    mod('bilinear', 'Bilinear', [3, 4, 5], {}, new nn.Bilinear(3, 4, 5), [r(6, 3), r(6, 4)]),
    mod('layernorm', 'LayerNorm', [8], {}, new nn.LayerNorm(8), [r(3, 8).mul(3).add(1)]),
    mod('layernorm-2d-eps', 'LayerNorm', [[4, 8]], { eps: 1e-3 }, new nn.LayerNorm([4, 8], { eps: 1e-3 }), [r(2, 4, 8)]),
    mod('layernorm-noaffine', 'LayerNorm', [8], { elementwise_affine: false }, new nn.LayerNorm(8, { elementwiseAffine: false }), [r(3, 8)]),
    mod('layernorm-nobias', 'LayerNorm', [8], { bias: false }, new nn.LayerNorm(8, { bias: false }), [r(3, 8)]),
    mod('rmsnorm', 'RMSNorm', [8], {}, new nn.RMSNorm(8), [r(3, 8)]),
    mod('rmsnorm-2d-eps', 'RMSNorm', [[2, 8]], { eps: 1e-3 }, new nn.RMSNorm([2, 8], { eps: 1e-3 }), [r(3, 2, 8)]),
    mod('bilinear-3d', 'Bilinear', [3, 4, 2], {}, new nn.Bilinear(3, 4, 2), [r(2, 5, 3), r(2, 5, 4)]),
    mod('embedding', 'Embedding', [10, 4], {}, new nn.Embedding(10, 4), [torch.tensor([[1, 2, 2], [9, 0, 1]], { dtype: 'int64' })]),
    mod('embedding-padding', 'Embedding', [10, 4], { padding_idx: 2 }, new nn.Embedding(10, 4, { paddingIdx: 2 }),
      [torch.tensor([1, 2, 2, 7], { dtype: 'int64' })]),
    mod('gru-fused', 'GRU', [6, 5], {}, new nn.GRU(6, 5), [r(4, 3, 6)]),
    mod('gru-fused-2-layers', 'GRU', [6, 5], { num_layers: 2, batch_first: true }, new nn.GRU(6, 5, { numLayers: 2, batchFirst: true }), [r(3, 4, 6)]),
    mod('gru-h0-2-layers', 'GRU', [6, 5], { num_layers: 2, batch_first: true }, new nn.GRU(6, 5, { numLayers: 2, batchFirst: true }),
      [r(3, 4, 6), r(2, 3, 5)]),
    mod('gru-bidirectional', 'GRU', [6, 4], { num_layers: 2, bidirectional: true }, new nn.GRU(6, 4, { numLayers: 2, bidirectional: true }), [r(5, 2, 6)]),
    mod('gru-nobias-unbatched', 'GRU', [6, 4], { bias: false }, new nn.GRU(6, 4, { bias: false }), [r(5, 6)]),
    mod('lstm', 'LSTM', [6, 5], { num_layers: 2, batch_first: true }, new nn.LSTM(6, 5, { numLayers: 2, batchFirst: true }), [r(3, 4, 6)]),
    mod('lstm-h0-bidirectional', 'LSTM', [6, 4], { bidirectional: true }, new nn.LSTM(6, 4, { bidirectional: true }),
      [r(5, 2, 6), r(2, 2, 4), r(2, 2, 4)], { pairState: true }),
    mod('grucell', 'GRUCell', [6, 5], {}, new nn.GRUCell(6, 5), [r(3, 6), r(3, 5)]),
    mod('lstmcell', 'LSTMCell', [6, 5], {}, new nn.LSTMCell(6, 5), [r(3, 6), r(3, 5), r(3, 5)], { pairState: true }),
    mod('lstmcell-unbatched-nobias', 'LSTMCell', [6, 5], { bias: false }, new nn.LSTMCell(6, 5, { bias: false }), [r(6)]),
    mod('conv1d', 'Conv1d', [4, 6, 3], {}, new nn.Conv1d(4, 6, 3), [r(2, 4, 10)]),
    mod('conv1d-options', 'Conv1d', [4, 6, 3], { stride: 2, padding: 2, dilation: 2, groups: 2, bias: false },
      new nn.Conv1d(4, 6, 3, { stride: 2, padding: 2, dilation: 2, groups: 2, bias: false }), [r(2, 4, 11)]),
    mod('conv1d-same-unbatched', 'Conv1d', [3, 2, 4], { padding: 'same' }, new nn.Conv1d(3, 2, 4, { padding: 'same' }), [r(3, 9)]),
    mod('mha', 'MultiheadAttention', [8, 2], {}, new nn.MultiheadAttention(8, 2), [r(4, 3, 8), r(5, 3, 8), r(5, 3, 8)]),
    mod('mha-masks-batch-first', 'MultiheadAttention', [8, 4], { batch_first: true }, new nn.MultiheadAttention(8, 4, { batchFirst: true }),
      [r(2, 4, 8), r(2, 5, 8), r(2, 5, 8), torch.tensor([[false, false, false, true, true], [false, false, false, false, false]]),
        torch.rand([4, 5]).gt(0.7)],
      { gradInputs: 3, positional: 3, callKwargs: { key_padding_mask: '$3', attn_mask: '$4', average_attn_weights: false },
        call: (m, x) => (m as nn.MultiheadAttention).forward(x[0], x[1], x[2], { keyPaddingMask: x[3], attnMask: x[4], averageAttnWeights: false }) }),
    mod('mha-float-mask-nobias', 'MultiheadAttention', [6, 3], { bias: false }, new nn.MultiheadAttention(6, 3, { bias: false }),
      [r(4, 2, 6), r(4, 2, 6), r(4, 2, 6), r(4, 4)], { gradInputs: 3, positional: 3, callKwargs: { attn_mask: '$3', need_weights: false },
        call: (m, x) => (m as nn.MultiheadAttention).forward(x[0], x[1], x[2], { attnMask: x[3], needWeights: false }) }),
    mod('encoder-layer', 'TransformerEncoderLayer', [8, 2], { dim_feedforward: 16, dropout: 0 },
      new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 }), [r(5, 3, 8)]),
    mod('encoder-layer-prenorm-gelu', 'TransformerEncoderLayer', [8, 4],
      { dim_feedforward: 12, dropout: 0, activation: 'gelu', batch_first: true, norm_first: true },
      new nn.TransformerEncoderLayer(8, 4, { dimFeedforward: 12, dropout: 0, activation: 'gelu', batchFirst: true, normFirst: true }),
      [r(2, 5, 8), torch.tensor([[false, false, false, false, true], [false, false, false, false, false]])],
      { gradInputs: 1, positional: 1, callKwargs: { src_key_padding_mask: '$1' },
        call: (m, x) => (m as nn.TransformerEncoderLayer).forward(x[0], { srcKeyPaddingMask: x[1] }) }),
    {
      name: 'encoder', inputs: [r(2, 5, 8)],
      py: { kind: 'module', train: false, encoder: [[8, 2], { dim_feedforward: 16, dropout: 0, batch_first: true }], numLayers: 2, norm: 8 },
      ours: new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, batchFirst: true }), 2,
        { norm: new nn.LayerNorm(8) }),
    },
    mod('relu', 'ReLU', [], {}, new nn.ReLU(), [r(4, 5)]),
    mod('gelu', 'GELU', [], {}, new nn.GELU(), [r(4, 5).mul(2)]),
    mod('gelu-tanh', 'GELU', [], { approximate: 'tanh' }, new nn.GELU({ approximate: 'tanh' }), [r(4, 5).mul(2)]),
    mod('silu', 'SiLU', [], {}, new nn.SiLU(), [r(4, 5)]),
    mod('tanh', 'Tanh', [], {}, new nn.Tanh(), [r(4, 5)]),
    mod('sigmoid', 'Sigmoid', [], {}, new nn.Sigmoid(), [r(4, 5)]),
    mod('softmax', 'Softmax', [], { dim: 1 }, new nn.Softmax(1), [r(3, 5, 2)]),
    mod('dropout-eval', 'Dropout', [0.3], {}, new nn.Dropout(0.3).eval(), [r(4, 5)]),
    mod('identity', 'Identity', [], {}, new nn.Identity(), [r(4, 5)]),
    mod('sequential', 'Sequential', [], {}, new nn.Sequential(new nn.Linear(6, 8), new nn.GELU(), new nn.LayerNorm(8), new nn.Linear(8, 3)),
      [r(5, 6)], { py: { kind: 'module', train: false, layers: [['Linear', [6, 8], {}], ['GELU', [], {}], ['LayerNorm', [8], {}], ['Linear', [8, 3], {}]] } }),
  ];
}

function functionalCases(): Case[] {
  torch.manualSeed(11);
  const fn = (name: string, pyFn: string, kwargs: Record<string, unknown>, ours: (...x: Tensor[]) => Tensor, inputs: Tensor[],
    extra: Partial<Case> & { positional?: number } = {}): Case =>
    ({ name, py: { kind: 'functional', fn: pyFn, kwargs, gradInputs: extra.gradInputs, positional: extra.positional }, ours, inputs, ...extra });
  const probs = r(4, 5).softmax(1);
  return [
    fn('mse-mean', 'mse_loss', {}, (a, b) => F.mseLoss(a, b), [r(4, 5), r(4, 5)]),
    fn('mse-sum', 'mse_loss', { reduction: 'sum' }, (a, b) => F.mseLoss(a, b, { reduction: 'sum' }), [r(4, 5), r(4, 5)]),
    fn('mse-none', 'mse_loss', { reduction: 'none' }, (a, b) => F.mseLoss(a, b, { reduction: 'none' }), [r(4, 5), r(4, 5)]),
    fn('cross-entropy', 'cross_entropy', {}, (a, b) => F.crossEntropy(a, b),
      [r(6, 5), torch.tensor([0, 4, 2, 2, 1, 3], { dtype: 'int64' })], { gradInputs: 1 }),
    fn('cross-entropy-options', 'cross_entropy', { weight: '$2', ignore_index: 2, label_smoothing: 0.1 },
      (a, b, w) => F.crossEntropy(a, b, { weight: w, ignoreIndex: 2, labelSmoothing: 0.1 }),
      [r(6, 5), torch.tensor([0, 4, 2, 2, 1, 3], { dtype: 'int64' }), torch.rand([5]).add(0.5)], { gradInputs: 1, positional: 2 }),
    fn('cross-entropy-probabilities', 'cross_entropy', {}, (a, b) => F.crossEntropy(a, b), [r(4, 5), probs], { gradInputs: 1 }),
    fn('pad', 'pad', { pad: [1, 2, 0, 1], value: 0.5 }, (x) => F.pad(x, [1, 2, 0, 1], { value: 0.5 }), [r(2, 3, 4)], { positional: 1 }),
    fn('normalize', 'normalize', { dim: 1 }, (x) => F.normalize(x, { dim: 1 }), [r(4, 5)]),
    fn('cosine-similarity', 'cosine_similarity', { dim: 1 }, (a, b) => F.cosineSimilarity(a, b, 1), [r(4, 5), r(4, 5)]),
    fn('sdpa', 'scaled_dot_product_attention', {}, (q, k, v) => F.scaledDotProductAttention(q, k, v), [r(2, 3, 4, 8), r(2, 3, 6, 8), r(2, 3, 6, 5)]),
    fn('sdpa-causal', 'scaled_dot_product_attention', { is_causal: true }, (q, k, v) => F.scaledDotProductAttention(q, k, v, { isCausal: true }),
      [r(2, 4, 8), r(2, 4, 8), r(2, 4, 8)]),
    fn('sdpa-bool-mask', 'scaled_dot_product_attention', { attn_mask: '$3', scale: 0.3 },
      (q, k, v, m) => F.scaledDotProductAttention(q, k, v, { attnMask: m, scale: 0.3 }),
      [r(2, 3, 8), r(2, 4, 8), r(2, 4, 8), torch.rand([3, 4]).gt(0.3).logicalOr(torch.eye(3, 4, { dtype: 'bool' }))], { gradInputs: 3, positional: 3 }),
    fn('sdpa-float-mask', 'scaled_dot_product_attention', { attn_mask: '$3' },
      (q, k, v, m) => F.scaledDotProductAttention(q, k, v, { attnMask: m }), [r(2, 3, 8), r(2, 4, 8), r(2, 4, 8), r(3, 4)], { gradInputs: 3, positional: 3 }),
  ];
}

interface Ran {
  output: Tensor;
  grad: Tensor;
  inputGrads: (Tensor | null)[];
  paramGrads: Record<string, Tensor>;
}

// Our forward and backward from sum(output * grad), grad random.
function runOurs(c: Case): Ran {
  const n = c.gradInputs ?? c.inputs.length;
  const ins = c.inputs.map((x, i) => (i < n && x.dtype.startsWith('float') ? x.detach().requiresGrad_() : x));
  const pair = (c.py as { pairState?: boolean }).pairState;
  const call = (m: nn.Module, xs: Tensor[]): unknown => (m.forward as (...x: unknown[]) => unknown)(...(pair ? [xs[0], [xs[1], xs[2]]] : xs));
  const out = flat(c.ours instanceof nn.Module ? (c.call ?? call)(c.ours, ins) : c.ours(...ins));
  const grad = torch.randn(out.shape);
  out.mul(grad).sum().backward();
  const paramGrads = c.ours instanceof nn.Module
    ? Object.fromEntries(c.ours.namedParameters().filter(([, p]) => p.grad !== null).map(([k, p]) => [k, p.grad!]))
    : {};
  return { output: out.detach(), grad, inputGrads: ins.map((x) => x.grad), paramGrads };
}

// A module's output as one tensor: an RNN's [output, hN] (or [output, [hN, cN]]) flattened in order, as the Python side.
function flat(out: unknown): Tensor {
  return Array.isArray(out) ? torch.cat(out.filter((o) => o !== null).map((o) => flat(o).reshape(-1))) : out as Tensor;
}

function close(ours: Tensor, theirs: Tensor, what: string): void {
  const scale = Math.max(1, theirs.double().abs().max().item() as number);
  expect(maxDiff(ours, theirs) / scale, what).toBeLessThanOrEqual(1e-5);
}

const missing = pythonTorchMissing();

describe.for([['layers', moduleCases()], ['nn.functional', functionalCases()]] as const)('%s against PyTorch (outputs and gradients)', ([label, cases]) => {
  let ours: Record<string, Ran> = {};
  let theirs: Record<string, PyResult> = {};
  beforeAll(async () => {
    if (missing) return;
    ours = Object.fromEntries(cases.map((c) => [c.name, runOurs(c)]));
    const payload = Object.fromEntries(cases.map((c) => [c.name, {
      state: c.ours instanceof nn.Module ? c.ours.stateDict() : {}, inputs: c.inputs, grad: ours[c.name].grad,
    }]));
    const inFile = join(dir, `${label}-in.pt`), outFile = join(dir, `${label}-out.pt`);
    await torch.save(payload, inFile);
    runPython('nn_reference.py', { inFile, outFile, cases: cases.map((c) => ({ name: c.name, ...c.py })) });
    theirs = await torch.load<Record<string, PyResult>>(outFile);
  });

  it.for(cases.map((c) => c.name))('%s', (name, ctx) => {
    needPython(ctx);
    const o = ours[name], t = theirs[name];
    close(o.output, t.output, `${name}: output`);
    o.inputGrads.forEach((g, i) => {
      const tg = t.inputGrads[i];
      expect(g === null, `${name}: input ${i} has a gradient on one side only`).toBe(tg === null);
      if (g && tg) close(g, tg, `${name}: input ${i}'s gradient`);
    });
    expect(Object.keys(o.paramGrads).sort()).toEqual(Object.keys(t.paramGrads).sort());
    for (const [k, g] of Object.entries(o.paramGrads)) close(g, t.paramGrads[k], `${name}: ${k}'s gradient`);
  });
});

// ---- initialisation ----

describe('torch.nn.init and the layers\' default initialisation', () => {
  const INIT: [string, number[], Record<string, unknown>, (t: Tensor) => Tensor][] = [
    ['uniform_', [50, 40], { a: -2, b: 3 }, (t) => nn.init.uniform_(t, -2, 3)],
    ['normal_', [50, 40], { mean: 1, std: 2 }, (t) => nn.init.normal_(t, 1, 2)],
    ['xavier_uniform_', [30, 20], { gain: 1.5 }, (t) => nn.init.xavierUniform_(t, 1.5)],
    ['xavier_normal_', [30, 20, 2], {}, (t) => nn.init.xavierNormal_(t)],
    ['kaiming_uniform_', [30, 20, 3], { a: 0.1, mode: 'fan_out' }, (t) => nn.init.kaimingUniform_(t, { a: 0.1, mode: 'fan_out' })],
    ['kaiming_normal_', [30, 20], { nonlinearity: 'relu' }, (t) => nn.init.kaimingNormal_(t, { nonlinearity: 'relu' })],
    ['orthogonal_', [20, 30], { gain: 2 }, (t) => nn.init.orthogonal_(t, 2)],
    ['orthogonal_', [30, 4, 5], {}, (t) => nn.init.orthogonal_(t)],
    ['ones_', [3, 2], {}, (t) => nn.init.ones_(t)],
    ['zeros_', [3, 2], {}, (t) => nn.init.zeros_(t)],
  ];
  const CONSTRUCT: [string, unknown[], Record<string, unknown>, () => nn.Module][] = [
    ['Linear', [20, 30], {}, () => new nn.Linear(20, 30)],
    ['Bilinear', [3, 4, 5], {}, () => new nn.Bilinear(3, 4, 5)],
    ['Embedding', [10, 5], { padding_idx: 0 }, () => new nn.Embedding(10, 5, { paddingIdx: 0 })],
    ['LayerNorm', [8], {}, () => new nn.LayerNorm(8)],
    ['GRU', [6, 5], { num_layers: 2, bidirectional: true }, () => new nn.GRU(6, 5, { numLayers: 2, bidirectional: true })],
    ['LSTM', [6, 5], { num_layers: 2 }, () => new nn.LSTM(6, 5, { numLayers: 2 })],
    ['LSTMCell', [4, 3], {}, () => new nn.LSTMCell(4, 3)],
    ['Conv1d', [4, 6, 3], { groups: 2 }, () => new nn.Conv1d(4, 6, 3, { groups: 2 })],
    ['MultiheadAttention', [8, 2], {}, () => new nn.MultiheadAttention(8, 2)],
    ['TransformerEncoderLayer', [8, 2], { dim_feedforward: 16 }, () => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 })],
  ];

  it('fills tensors with the numbers PyTorch draws from the same seed, and state dicts load both ways', async (ctx) => {
    needPython(ctx);
    torch.manualSeed(123);
    const ours = INIT.map(([, shape, , fill]) => fill(torch.empty(shape)));
    const built = CONSTRUCT.map(([, , , make], i) => {
      torch.manualSeed(200 + i);
      return make();
    });
    const outFile = join(dir, 'init-out.pt');
    const inFile = join(dir, 'init-in.pt');
    await torch.save({}, inFile);
    runPython('nn_reference.py', {
      inFile, outFile, cases: [
        { name: 'init', kind: 'init', seed: 123, ops: INIT.map(([fn, shape, kwargs]) => [fn, shape, kwargs]) },
        ...CONSTRUCT.map(([ctor, args, kwargs], i) => ({ name: ctor, kind: 'construct', seed: 200 + i, ctor, args, kwargs })),
      ],
    });
    const theirs = await torch.load<Record<string, PyResult>>(outFile);
    INIT.forEach(([fn], i) => expect(maxDiff(ours[i], theirs.init.values[i]), `${fn} #${i}`).toBeLessThanOrEqual(1e-6));
    CONSTRUCT.forEach(([ctor, , , make], i) => {
      const sd = built[i].stateDict();
      expect(Object.keys(sd), ctor).toEqual(Object.keys(theirs[ctor].state));
      for (const [k, t] of Object.entries(sd)) expect(maxDiff(t, theirs[ctor].state[k]), `${ctor}.${k}`).toBe(0);
      // And back: PyTorch's state dict loads strictly into a fresh module of ours.
      const fresh = make();
      fresh.loadStateDict(theirs[ctor].state);
      for (const [k, t] of Object.entries(fresh.stateDict())) expect(maxDiff(t, theirs[ctor].state[k]), `${ctor}.${k} loaded`).toBe(0);
    });
  });

  // Within sampling error of the distributions PyTorch documents (5 standard errors), on tensors large enough.
  it('draws from the distributions PyTorch documents', () => {
    const check = (t: Tensor, mean: number, variance: number, what: string): void => {
      const n = t.numel;
      const m = t.mean().item() as number;
      const v = t.var().item() as number;
      expect(Math.abs(m - mean), `${what}: mean`).toBeLessThan(5 * Math.sqrt(variance / n));
      // The sample variance's standard error is about variance * sqrt(2 / n) for these light-tailed distributions.
      expect(Math.abs(v - variance), `${what}: variance`).toBeLessThan(5 * variance * Math.sqrt(2 / n));
    };
    torch.manualSeed(5);
    const lin = new nn.Linear(400, 300);
    check(lin.weight, 0, 1 / 400 / 3, 'Linear.weight ~ U(-1/sqrt(400), 1/sqrt(400))');
    check(new nn.Embedding(500, 64).weight, 0, 1, 'Embedding.weight ~ N(0, 1)');
    check(nn.init.kaimingNormal_(torch.empty([300, 200]), { nonlinearity: 'relu' }), 0, 2 / 200, 'kaiming_normal_ relu');
    check(nn.init.xavierUniform_(torch.empty([300, 200])), 0, 2 / 500, 'xavier_uniform_');
    const q = nn.init.orthogonal_(torch.empty([40, 60]));
    expect(maxDiff(q.matmul(q.t()), torch.eye(40))).toBeLessThan(1e-5);
  });

  it('dropout in training zeroes about p of the elements and scales the rest by 1 / (1 - p)', () => {
    const x = torch.ones([200, 100]);
    const d = new nn.Dropout(0.3);
    const y = d.forward(x);
    const zero = y.eq(0).float().mean().item() as number;
    expect(Math.abs(zero - 0.3)).toBeLessThan(5 * Math.sqrt(0.3 * 0.7 / 20_000));
    expect(y.amax().item()).toBeCloseTo(1 / 0.7, 6);
    expect(maxDiff(d.eval().forward(x), x)).toBe(0);
    expect(() => new nn.Dropout(1.5)).toThrow(/between 0 and 1/);
  });
});

describe('nn.TransformerEncoder', () => {
  it('holds copies of its layer: the same initial weights, each its own tensors, as PyTorch\'s deep copies', () => {
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 });
    const enc = new nn.TransformerEncoder(layer, 3);
    const sd = enc.stateDict();
    expect(Object.keys(sd).filter((k) => k.startsWith('layers.2.'))).toHaveLength(12);
    for (const [k, t] of Object.entries(layer.stateDict())) {
      for (let i = 0; i < 3; i++) expect(maxDiff(sd[`layers.${i}.${k}`], t), `layers.${i}.${k}`).toBe(0);
    }
    const params = enc.parameters();
    expect(new Set(params).size).toBe(params.length);
    expect(params.some((p) => layer.parameters().includes(p))).toBe(false);
    expect(enc.numParameters()).toBe(3 * layer.numParameters());
  });
});

// The seed GRU written as a composition of these modules (bench/lib/seed-gru-nn.js, what bench/nn.js times) is the
// built-in models.gru(): the same keys, and from the same weights the same output and gradients.
describe('the seed GRU as a torch.nn composition', () => {
  it('loads models.gru()\'s state dict strictly and gives its raw output and gradients', async () => {
    const { seedGruClass } = await import('../bench/lib/seed-gru-nn.js') as { seedGruClass: (n: typeof nn) => new (c: object) => nn.Module };
    const SeedGru = seedGruClass(nn);
    torch.manualSeed(1);
    const opts = { inputDim: 24, dModel: 16, numLayers: 2, outputDim: 24 };
    const builtIn = models.gru({ ...opts, dropout: 0 });
    const ours = new SeedGru(opts);
    expect(Object.keys(ours.stateDict())).toEqual(Object.keys(builtIn.stateDict()));
    ours.loadStateDict(builtIn.stateDict());
    const x = torch.randn([3, 5, 24]);
    const g = torch.randn([3, 24]);
    const a = builtIn.forward(x, { raw: true }).raw!;
    const b = (ours.forward as (x: Tensor) => Tensor)(x);
    expect(maxDiff(a, b)).toBeLessThan(1e-5);
    a.mul(g).sum().backward();
    b.mul(g).sum().backward();
    const theirs = Object.fromEntries(builtIn.namedParameters().map(([k, p]) => [k, p.grad!]));
    for (const [k, p] of ours.namedParameters()) expect(maxDiff(p.grad!, theirs[k]), k).toBeLessThan(1e-5);
  });
});
