/** Text generation with BioGPT (transformers' generate semantics). */
export { generate, resolveOptions, promptSeeds, seedsForChunk, type GenerateOptions, type GenerateResult, type GenerationStats } from './generate.js';
export { processScores, repetitionPenalty, noRepeatNgram, topK, topP, logSoftmaxRows, argmaxRow, sampleRow, type ProcessorConfig } from './logits_process.js';
export { DecodeStepper } from './stepper.js';
export { generateText, newIds, type TextGeneration, type GenerateTextOptions, type EncodedPrompt } from './text.js';
export {
  checkPromptLengths, findLengthProblem, lengthProblemError, describeLengthLimit, DEFAULT_MAX_NEW_TOKENS, OPTION_LENGTH_NAMES,
  type LengthLimit, type LengthProblem, type LengthWording,
} from './prompt_length.js';
export { readGenerationConfig, parseGenerationConfig, GenerationConfigValueError, mergeGenerationOptions, describeGenerationConfig, GENERATION_CONFIG_FILE, type GenerationConfigDefaults, type MergedGeneration } from './generation_config.js';
