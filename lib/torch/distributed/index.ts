// `import ... from 'lvmtorch/distributed'`: data-parallel training over c10d process groups.
/** @module lvmtorch/distributed */
export { World, DistributedError, type WorldOptions, type ReduceOp } from './world.js';
export { launch, type LaunchOptions, type LaunchResult } from './launch.js';
