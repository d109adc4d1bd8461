// torch.nn: Module and Parameter, the layers, torch.nn.functional, torch.nn.init and torch.nn.utils.
export { Module, StateDictError, type IncompatibleKeys } from './module.js';
export { Parameter } from './parameter.js';
export { Sequential, ModuleList, ModuleDict } from './container.js';
export { Identity, Linear, Bilinear, type FactoryOptions } from './linear.js';
export { LayerNorm, RMSNorm, type LayerNormOptions, type RMSNormOptions } from './normalization.js';
export { ReLU, GELU, SiLU, Tanh, Sigmoid, Softmax, Dropout } from './activation.js';
export { Embedding } from './sparse.js';
export { GRU, LSTM, GRUCell, LSTMCell, type RNNOptions } from './rnn.js';
export { Conv1d, type Conv1dModuleOptions } from './conv.js';
export { MultiheadAttention, type MultiheadAttentionOptions, type AttentionCallOptions } from './attention.js';
export {
  TransformerEncoderLayer, TransformerEncoder, type TransformerEncoderLayerOptions, type EncoderCallOptions,
} from './transformer.js';
export * as functional from './functional.js';
export * as init from './init.js';
export * as utils from './utils.js';
