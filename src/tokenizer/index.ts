/** Public API of the BioGPT tokenizer (Moses + BPE, exact to Hugging Face's BioGptTokenizer). */
export { BioGptTokenizer } from './biogpt_tokenizer.js';
export type { BatchEncoding, DecodeOptions, EncodeBatchOptions, PaddingMode } from './biogpt_tokenizer.js';
export { BytePairEncoder } from './bpe.js';
export { mosesTokenize } from './moses.js';
export { mosesDetokenize } from './detokenize.js';
