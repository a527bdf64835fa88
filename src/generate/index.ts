/** Text generation with BioGPT (transformers' generate semantics). */
export { generate, resolveOptions, type GenerateOptions, type GenerateResult, type GenerationStats } from './generate.js';
export { processScores, repetitionPenalty, noRepeatNgram, topK, topP, logSoftmaxRows, argmaxRow, sampleRow, type ProcessorConfig } from './logits_process.js';
export { DecodeStepper } from './stepper.js';
export { generateText, newIds, type TextGeneration, type GenerateTextOptions } from './text.js';
export { readGenerationConfig, parseGenerationConfig, mergeGenerationOptions, describeGenerationConfig, GENERATION_CONFIG_FILE, type GenerationConfigDefaults, type MergedGeneration } from './generation_config.js';
