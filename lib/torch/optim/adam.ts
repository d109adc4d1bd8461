// Adam, as torch.optim.Adam: the step runs natively (native/torch/optim/adam.cc), through PyTorch's fused CPU kernel on
// libtorch 2.x (as torch.optim's fused=True), through its single-tensor path otherwise.
import type { NativeHyper } from '../native.js';
import { torch2Layout } from './python-layout.js';
import { bool, checkRange, num, Optimizer, type OptimizerSpec, type ParamsInput } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  /** Adam: L2 added to the gradient; AdamW: decoupled decay of the weights, lr * weightDecay per step. */
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
  /**
   * true (the default): PyTorch's fused CPU kernel (`_fused_adam_` / `_fused_adamw_`, torch.optim's `fused=True`)
   * where libtorch has one (2.x) and the tensors allow it: one pass over memory, the same bits as torch.optim's
   * `fused=True`. false: torch.optim's default single-tensor path, bit for bit. No effect on libtorch 1.13. Not in
   * the state dict (torch.optim's `fused` stays None there).
   */
  fused: boolean;
}

/** @internal The checks, native names and torch.optim names shared by Adam and AdamW. */
export function adamSpec(name: 'Adam' | 'AdamW'): OptimizerSpec<AdamOptions> {
  return {
    name,
    kind: name === 'Adam' ? 'adam' : 'adamw',
    validate(o) {
      checkRange(typeof o.lr === 'number' && o.lr >= 0, `Invalid learning rate: ${o.lr}`);
      checkRange(typeof o.eps === 'number' && o.eps >= 0, `Invalid epsilon value: ${o.eps}`);
      checkRange(Array.isArray(o.betas) && o.betas.length === 2, `betas must be two numbers, got ${String(o.betas)}`);
      checkRange(typeof o.betas[0] === 'number' && o.betas[0] >= 0 && o.betas[0] < 1,
        `Invalid beta parameter at index 0: ${o.betas[0]}`);
      checkRange(typeof o.betas[1] === 'number' && o.betas[1] >= 0 && o.betas[1] < 1,
        `Invalid beta parameter at index 1: ${o.betas[1]}`);
      checkRange(typeof o.weightDecay === 'number' && o.weightDecay >= 0, `Invalid weight_decay value: ${o.weightDecay}`);
      if (typeof o.amsgrad !== 'boolean') throw new TypeError(`amsgrad must be a boolean, got ${typeof o.amsgrad}`);
      if (typeof o.maximize !== 'boolean') throw new TypeError(`maximize must be a boolean, got ${typeof o.maximize}`);
      if (typeof o.fused !== 'boolean') throw new TypeError(`fused must be a boolean, got ${typeof o.fused}`);
    },
    toNative(o) {
      const h: NativeHyper = {};
      if (o.lr !== undefined) h.lr = o.lr;
      if (o.betas !== undefined) [h.beta1, h.beta2] = o.betas;
      if (o.eps !== undefined) h.eps = o.eps;
      if (o.weightDecay !== undefined) h.weightDecay = o.weightDecay;
      if (o.amsgrad !== undefined) h.amsgrad = o.amsgrad;
      if (o.maximize !== undefined) h.maximize = o.maximize;
      if (o.fused !== undefined) h.fused = o.fused;
      return h;
    },
    // torch's keys in its order, 1.13's or 2.x's (checked against torch.optim's state_dict() in test/optim.test.ts).
    toPython(o) {
      const common = { lr: o.lr, betas: [...o.betas], eps: o.eps, weight_decay: o.weightDecay, amsgrad: o.amsgrad };
      if (torch2Layout()) {
        return { ...common, maximize: o.maximize, foreach: null, capturable: false, differentiable: false, fused: null,
          decoupled_weight_decay: name === 'AdamW' };
      }
      return name === 'Adam'
        ? { ...common, maximize: o.maximize, foreach: null, capturable: false, differentiable: false, fused: false }
        : { ...common, foreach: null, maximize: o.maximize, capturable: false };
    },
    fromPython(g, current) {
      if (name === 'Adam' && g.decoupled_weight_decay === true) {
        throw new RangeError('this state dict has decoupled_weight_decay (an AdamW state): load it into AdamW');
      }
      let betas = current.betas;
      if (g.betas !== undefined) {
        const b = g.betas;
        if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === 'number')) {
          throw new TypeError(`param group 'betas' must be two numbers, got ${String(b)}`);
        }
        betas = [b[0], b[1]];
      }
      return {
        lr: num(g, 'lr', current.lr),
        betas,
        eps: num(g, 'eps', current.eps),
        weightDecay: num(g, 'weight_decay', current.weightDecay),
        amsgrad: bool(g, 'amsgrad', current.amsgrad),
        maximize: bool(g, 'maximize', current.maximize),
        fused: current.fused,  // how to compute, not what: a saved `fused` (None, or Python's choice) is not ours
      };
    },
  };
}

/**
 * torch.optim.Adam: `new Adam(model.parameters(), { lr: 1e-3 })`. Defaults as PyTorch's: lr 1e-3, betas [0.9,
 * 0.999], eps 1e-8, weightDecay 0, amsgrad false, maximize false; and fused true (PyTorch's fused CPU kernel, see
 * AdamOptions.fused).
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, {
      lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, fused: true, ...opts,
    }, adamSpec('Adam'));
  }
}

