// torch.nn: for now torch.nn.utils (the gradient clipping the training step uses).
export * as utils from './utils.js';
