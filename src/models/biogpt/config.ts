/**
 * BioGPT configs: the parser and validator live in src/io/biogpt_config.ts (config.json); this adds
 * a builder for configs made in code (tests, benchmarks) and the published model sizes.
 */
import { parseBioGptConfig, type BioGptConfig } from '../../io/biogpt_config.js';
import { OpArgumentError } from '../../errors.js';

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

/**
 * Attention implementation (transformers' `attn_implementation`): 'eager' is the composite path
 * (matmul → additive mask → softmax → dropout → matmul, [B, H, T, S] scores), 'flash' the fused
 * kernels of src/ops/attention.ts (training and prefill; single-token cached steps use the decode
 * kernel). Same scale, causal + padding mask and dropout masks; padding query rows with no visible
 * key give 0 instead of eager's uniform average (their outputs are never used).
 */
export type AttnImplementation = 'eager' | 'flash';
export const ATTN_IMPLEMENTATIONS: readonly AttnImplementation[] = ['eager', 'flash'];
/** 'eager' unless RADGRAD_ATTN_IMPLEMENTATION says otherwise (runs a whole suite with 'flash'). */
export const DEFAULT_ATTN_IMPLEMENTATION: AttnImplementation = checkAttnImplementation(process.env.RADGRAD_ATTN_IMPLEMENTATION ?? 'eager', 'RADGRAD_ATTN_IMPLEMENTATION');

/** `attn_implementation` (or transformers' internal `_attn_implementation`) of config.json, else the default. */
export function attnImplementationOf(cfg: BioGptConfig): AttnImplementation {
  const v = cfg.raw['attn_implementation'] ?? cfg.raw['_attn_implementation'];
  if (v === undefined || v === null) return DEFAULT_ATTN_IMPLEMENTATION;
  return checkAttnImplementation(v, cfg.file);
}

export function checkAttnImplementation(v: unknown, where = 'attnImplementation'): AttnImplementation {
  // transformers' 'sdpa' / 'flash_attention_2' are fused kernels too: they map to 'flash'.
  if (v === 'sdpa' || v === 'flash_attention_2') return 'flash';
  if (v === 'eager' || v === 'flash') return v;
  throw new OpArgumentError('BioGptConfig', `attn_implementation (${where})`, `one of ${ATTN_IMPLEMENTATIONS.join(', ')}`, JSON.stringify(v));
}
