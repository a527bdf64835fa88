/** BioGPT (transformers' BioGptModel / BioGptForCausalLM) with checkpoint loading and a KV cache. */
export {
  BioGptModel, BioGptForCausalLM,
  type BioGptForwardInput, type BioGptModelOutput, type CausalLMInput, type CausalLMOutput,
} from './model.js';
export { BioGptDecoderLayer } from './decoder_layer.js';
export { BioGptAttention, setAttnImplementation, type AttentionOptions } from './attention.js';
export { cacheLength, cacheBatch, reorderCache, disposeCache, type KvCache, type LayerKv } from './kv_cache.js';
export { openPretrained, loadPretrainedWeights, type FromPretrainedOptions, type LoadReport } from './pretrained.js';
export {
  toIdMatrix, positionIds, attentionBiasHost, shiftLabels, onesMask,
  type IdMatrix, type IdMatrixInput,
} from './inputs.js';
export { biogptConfig, BIOGPT_SIZES, attnImplementationOf, DEFAULT_ATTN_IMPLEMENTATION, type AttnImplementation } from './config.js';
