/** nn ops with autograd: softmax family, layer norm, cross-entropy, embedding, dropout, where/masks. */
export { softmax, logSoftmax } from './softmax.js';
export { addLayerNorm, layerNorm } from './layer_norm.js';
export { crossEntropy, crossEntropyWithCount, type CrossEntropyOptions } from './cross_entropy.js';
export { embedding, type EmbeddingOptions } from './embedding.js';
export { dropout, type DropoutOptions } from './dropout.js';
export { where, maskedFill } from './where.js';
export { causalMask, attentionBias, maskMin, FLOAT32_MIN, FLOAT16_MIN, type AttentionBiasOptions } from './attention_mask.js';
