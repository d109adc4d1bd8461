// `import ... from 'lvmtorch/serve'`: the inference server (Fastify), apart from the root so that importing
// 'lvmtorch' loads no HTTP stack.
/** @module lvmtorch/serve */
export {
  createServer, lvmtorchServe, ServingState, DEFAULT_TIMEOUTS, type LvmtorchServer, type ServeOptions, type ServeTimeouts,
} from './server.js';
export { ServedModel, type ModelFactory, type ServedConfig } from './served-model.js';
export { VectorBank, type Neighbour } from './bank.js';
export type { Batcher } from './batcher.js';
export type { ServerMetrics } from './metrics.js';
