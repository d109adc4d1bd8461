// torch.nn.utils.
export { clipGradNorm_, type ClipGradNormOptions } from './clip-grad.js';
