/** Neural-network modules: Module base, Linear, LayerNorm, Embedding, Dropout, ModuleList. */
export {
  Module, ModuleError, deferParameterInit, isParameterInitDeferred, manualSeed, nextInitSeed,
  type StateSource, type StateValue, type LoadStateOptions, type LoadStateResult,
} from './module.js';
export { Linear, linear, type LinearLike, type LinearModule, type LinearOptions } from './linear.js';
export { LayerNorm, type LayerNormOptions } from './layer_norm.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { Dropout, reseedDropout } from './dropout.js';
export { ModuleList } from './module_list.js';
export * from './init.js';
