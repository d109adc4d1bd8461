// torch.optim: the optimisers, and torch.optim.lr_scheduler as `lrScheduler`.
export { Optimizer, type ParamGroup, type ParamsInput, type OptimizerStateDict, type LoadableStateDict } from './optimizer.js';
export { Adam, type AdamOptions } from './adam.js';
export { AdamW } from './adamw.js';
export { SGD, type SGDOptions } from './sgd.js';
export * as lrScheduler from './schedulers.js';
