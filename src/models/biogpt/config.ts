/**
 * BioGPT configs: the parser and validator live in src/io/biogpt_config.ts (config.json); this adds
 * a builder for configs made in code (tests, benchmarks) and the published model sizes.
 */
import { parseBioGptConfig, type BioGptConfig } from '../../io/biogpt_config.js';

export type { BioGptConfig } from '../../io/biogpt_config.js';
export { loadBioGptConfig, parseBioGptConfig, BIOGPT_LAYER_NORM_EPS, BIOGPT_POSITION_OFFSET } from '../../io/biogpt_config.js';

/** config.json fields (snake_case, as transformers writes them) of the published checkpoints. */
export const BIOGPT_SIZES = {
  /** microsoft/biogpt (347M parameters). */
  biogpt: {
    vocab_size: 42384, hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16,
    intermediate_size: 4096, max_position_embeddings: 1024,
  },
  /** microsoft/BioGPT-Large (1.5B parameters). */
  large: {
    vocab_size: 57717, hidden_size: 1600, num_hidden_layers: 48, num_attention_heads: 25,
    intermediate_size: 6400, max_position_embeddings: 2048,
  },
} as const;

/** A validated config from config.json-style fields (transformers' defaults for the rest). */
export function biogptConfig(fields: Record<string, unknown>, file = '<inline config>'): BioGptConfig {
  return parseBioGptConfig({ model_type: 'biogpt', ...fields }, file);
}
