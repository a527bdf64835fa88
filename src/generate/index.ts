/** Text generation with BioGPT (transformers' generate semantics). */
export { generate, resolveOptions, promptSeeds, type GenerateOptions, type GenerateResult, type GenerationStats } from './generate.js';
export { processScores, repetitionPenalty, noRepeatNgram, topK, topP, logSoftmaxRows, argmaxRow, sampleRow, type ProcessorConfig } from './logits_process.js';
export { DecodeStepper } from './stepper.js';
export { generateText, newIds, type TextGeneration, type GenerateTextOptions, type EncodedPrompt } from './text.js';
export { checkPromptLengths, findLengthProblem, DEFAULT_MAX_NEW_TOKENS, type LengthLimit, type LengthProblem } from './prompt_length.js';
export { readGenerationConfig, parseGenerationConfig, mergeGenerationOptions, describeGenerationConfig, GENERATION_CONFIG_FILE, type GenerationConfigDefaults, type MergedGeneration } from './generation_config.js';
