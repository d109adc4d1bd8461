// SGD with momentum, as torch.optim.SGD: the step runs natively (native/torch/optim/sgd.cc), with momentum through
// PyTorch's fused CPU kernel on libtorch 2.x (as torch.optim's fused=True), through its single-tensor path otherwise.
import type { NativeHyper } from '../native.js';
import { torch2Layout } from './python-layout.js';
import { bool, checkRange, num, Optimizer, type OptimizerSpec, type ParamsInput } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
  /**
   * true (the default): with momentum, PyTorch's fused CPU kernel (`_fused_sgd_`, torch.optim's `fused=True`) where
   * libtorch has one (2.x) and the tensors allow it (float32, float64). false: torch.optim's default single-tensor
   * path, bit for bit. No effect on libtorch 1.13, or without momentum. Not in the state dict.
   */
  fused: boolean;
}

const spec: OptimizerSpec<SGDOptions> = {
  name: 'SGD',
  kind: 'sgd',
  validate(o) {
    checkRange(typeof o.lr === 'number' && o.lr >= 0, `Invalid learning rate: ${o.lr}`);
    checkRange(typeof o.momentum === 'number' && o.momentum >= 0, `Invalid momentum value: ${o.momentum}`);
    checkRange(typeof o.dampening === 'number', `Invalid dampening value: ${o.dampening}`);
    checkRange(typeof o.weightDecay === 'number' && o.weightDecay >= 0, `Invalid weight_decay value: ${o.weightDecay}`);
    if (typeof o.nesterov !== 'boolean') throw new TypeError(`nesterov must be a boolean, got ${typeof o.nesterov}`);
    if (typeof o.maximize !== 'boolean') throw new TypeError(`maximize must be a boolean, got ${typeof o.maximize}`);
    if (typeof o.fused !== 'boolean') throw new TypeError(`fused must be a boolean, got ${typeof o.fused}`);
    checkRange(!o.nesterov || (o.momentum > 0 && o.dampening === 0),
      'Nesterov momentum requires a momentum and zero dampening');
  },
  toNative(o) {
    const h: NativeHyper = {};
    if (o.lr !== undefined) h.lr = o.lr;
    if (o.momentum !== undefined) h.momentum = o.momentum;
    if (o.dampening !== undefined) h.dampening = o.dampening;
    if (o.weightDecay !== undefined) h.weightDecay = o.weightDecay;
    if (o.nesterov !== undefined) h.nesterov = o.nesterov;
    if (o.maximize !== undefined) h.maximize = o.maximize;
    if (o.fused !== undefined) h.fused = o.fused;
    return h;
  },
  toPython(o) {
    return {
      lr: o.lr, momentum: o.momentum, dampening: o.dampening, weight_decay: o.weightDecay, nesterov: o.nesterov,
      maximize: o.maximize, foreach: null, differentiable: false, ...(torch2Layout() ? { fused: null } : {}),
    };
  },
  fromPython(g, current) {
    return {
      lr: num(g, 'lr', current.lr),
      momentum: num(g, 'momentum', current.momentum),
      dampening: num(g, 'dampening', current.dampening),
      weightDecay: num(g, 'weight_decay', current.weightDecay),
      nesterov: bool(g, 'nesterov', current.nesterov),
      maximize: bool(g, 'maximize', current.maximize),
      fused: current.fused,  // how to compute, not what: a saved `fused` is not ours
    };
  },
};

/**
 * torch.optim.SGD: `new SGD(params, { lr: 0.1, momentum: 0.9 })`. lr must be given (as in torch 1.13); the rest
 * default as PyTorch's: momentum 0, dampening 0, weightDecay 0, nesterov false, maximize false; and fused true
 * (PyTorch's fused CPU kernel, see SGDOptions.fused).
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, opts: Partial<SGDOptions> & { lr: number }) {
    if (opts === undefined || opts.lr === undefined) throw new TypeError('SGD needs a learning rate: { lr }');
    super(params, {
      momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, fused: true, ...opts,
    }, spec);
  }
}
