// torch.optim's state dicts gained keys between PyTorch 1.13 and 2.x (param groups: differentiable, fused,
// decoupled_weight_decay; ReduceLROnPlateau: default_min_lr, no verbose). lvmtorch writes the layout of the
// PyTorch whose libtorch it runs on, so a checkpoint reads in that Python exactly as one torch.save wrote there.
import { libtorchMajor } from '../native.js';

/** Whether the libtorch in use is PyTorch 2.x (or later): the state-dict layout to write. */
export function torch2Layout(): boolean {
  return libtorchMajor() >= 2;
}
