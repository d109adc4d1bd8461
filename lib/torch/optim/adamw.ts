// AdamW, as torch.optim.AdamW: Adam with decoupled weight decay (fused on libtorch 2.x, as Adam).
import { adamSpec, type AdamOptions } from './adam.js';
import { Optimizer, type ParamsInput } from './optimizer.js';

/**
 * torch.optim.AdamW: `new AdamW(model.parameters(), { lr: 5e-4, weightDecay: 0.01 })`. Defaults as PyTorch's: lr
 * 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 1e-2, amsgrad false, maximize false; and fused true (PyTorch's
 * fused CPU kernel, see AdamOptions.fused).
 */
export class AdamW extends Optimizer<AdamOptions> {
  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, {
      lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, fused: true, ...opts,
    }, adamSpec('AdamW'));
  }
}
