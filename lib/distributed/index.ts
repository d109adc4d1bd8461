// `import ... from 'lvmtorch/distributed'`: data-parallel training over c10d process groups.
export { World, DistributedError, type WorldOptions, type ReduceOp } from './world.js';
export { launch, type LaunchOptions } from './launch.js';
