/**
 * BioGPT's config.json (transformers' BioGptConfig) parsed into a typed, validated config, and a
 * check that a checkpoint holds exactly the parameters (names and shapes) that config implies.
 *
 * Defaults follow transformers' BioGptConfig for optional fields, but the six size fields are
 * required: a default there would silently build a model of the wrong size.
 *
 * `layerNormEps` is recorded only: transformers' BioGPT builds every LayerNorm with torch's default
 * eps (1e-5) and never reads config.layer_norm_eps (1e-12 in the published configs), so radgrad
 * uses BIOGPT_LAYER_NORM_EPS everywhere to match it numerically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileFormatError } from '../errors.js';
import { CheckpointMismatchError, ConfigFieldError } from './io_errors.js';
import { isFloatDType } from './dtype.js';
import type { CheckpointReader } from './reader.js';

/** The eps every BioGPT LayerNorm actually uses (nn.LayerNorm's default), whatever config says. */
export const BIOGPT_LAYER_NORM_EPS = 1e-5;

/** Position ids are offset by 2 in BioGPT's learned positional embedding (fairseq heritage). */
export const BIOGPT_POSITION_OFFSET = 2;

export interface BioGptConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  /** Only exact (erf) GELU is supported. */
  hiddenAct: 'gelu';
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  activationDropout: number;
  layerdrop: number;
  /** Multiply token embeddings by sqrt(hiddenSize). Default true. */
  scaleEmbedding: boolean;
  padTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  /** The LM head shares the token embedding. Default true. */
  tieWordEmbeddings: boolean;
  /** Recorded only; see BIOGPT_LAYER_NORM_EPS. */
  layerNormEps: number;
  initializerRange: number;
  useCache: boolean;
  /** `dtype` (transformers 5) or `torch_dtype` (4.x), if given. */
  dtype?: string;
  /** hiddenSize / numAttentionHeads. */
  headDim: number;
  /** The file it came from, for error messages. */
  file: string;
  /** The JSON as read. */
  raw: Record<string, unknown>;
}

/** transformers' BioGptConfig defaults for the optional fields. */
export const BIOGPT_DEFAULTS = {
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  activation_dropout: 0.0,
  layerdrop: 0.0,
  scale_embedding: true,
  pad_token_id: 1,
  bos_token_id: 0,
  eos_token_id: 2,
  tie_word_embeddings: true,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  use_cache: true,
} as const;

/** Parses an already-loaded config object; `file` is used in errors. */
export function parseBioGptConfig(raw: unknown, file: string): BioGptConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FileFormatError(file, 'config is not a JSON object');
  const j = raw as Record<string, unknown>;
  const bad = (field: string, problem: string) => new ConfigFieldError(file, field, problem);
  const show = (v: unknown) => JSON.stringify(v);

  const posInt = (field: string): number => {
    const v = j[field];
    if (v === undefined || v === null) throw bad(field, 'is missing (required)');
    if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(field, `must be an integer, got ${show(v)}`);
    if (v <= 0) throw bad(field, `must be positive, got ${v}`);
    return v;
  };
  const opt = <T>(field: keyof typeof BIOGPT_DEFAULTS, check: (v: unknown) => v is T, what: string): T => {
    const v = j[field];
    if (v === undefined) return BIOGPT_DEFAULTS[field] as T;
    if (!check(v)) throw bad(field, `must be ${what}, got ${show(v)}`);
    return v;
  };
  const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
  const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
  const prob = (field: 'hidden_dropout_prob' | 'attention_probs_dropout_prob' | 'activation_dropout' | 'layerdrop'): number => {
    const p = opt(field, isNum, 'a number');
    if (p < 0 || p >= 1) throw bad(field, `must be in [0, 1), got ${p}`);
    return p;
  };

  if (j.model_type !== undefined && j.model_type !== 'biogpt') throw bad('model_type', `is ${show(j.model_type)}, expected "biogpt"`);
  const vocabSize = posInt('vocab_size');
  const hiddenSize = posInt('hidden_size');
  const numHiddenLayers = posInt('num_hidden_layers');
  const numAttentionHeads = posInt('num_attention_heads');
  const intermediateSize = posInt('intermediate_size');
  const maxPositionEmbeddings = posInt('max_position_embeddings');
  if (hiddenSize % numAttentionHeads !== 0) {
    throw bad('num_attention_heads', `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}`);
  }
  const act = opt('hidden_act', (v): v is string => typeof v === 'string', 'a string');
  if (act !== 'gelu') throw bad('hidden_act', `'${act}' is not supported (only "gelu", the exact erf GELU)`);

  const tokenId = (field: 'pad_token_id' | 'bos_token_id' | 'eos_token_id'): number => {
    const id = opt(field, isInt, 'an integer token id');
    if (id < 0 || id >= vocabSize) throw bad(field, `${id} is outside the vocabulary [0, ${vocabSize})`);
    return id;
  };
  const layerNormEps = opt('layer_norm_eps', isNum, 'a number');
  if (layerNormEps <= 0) throw bad('layer_norm_eps', `must be positive, got ${layerNormEps}`);
  const dtypeField = j.dtype ?? j.torch_dtype;
  if (dtypeField !== undefined && dtypeField !== null && typeof dtypeField !== 'string') throw bad(j.dtype !== undefined ? 'dtype' : 'torch_dtype', `must be a string, got ${show(dtypeField)}`);

  const cfg: BioGptConfig = {
    vocabSize,
    hiddenSize,
    numHiddenLayers,
    numAttentionHeads,
    intermediateSize,
    maxPositionEmbeddings,
    hiddenAct: 'gelu',
    hiddenDropoutProb: prob('hidden_dropout_prob'),
    attentionProbsDropoutProb: prob('attention_probs_dropout_prob'),
    activationDropout: prob('activation_dropout'),
    layerdrop: prob('layerdrop'),
    scaleEmbedding: opt('scale_embedding', isBool, 'true or false'),
    padTokenId: tokenId('pad_token_id'),
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId: tokenId('eos_token_id'),
    tieWordEmbeddings: opt('tie_word_embeddings', isBool, 'true or false'),
    layerNormEps,
    initializerRange: opt('initializer_range', isNum, 'a number'),
    useCache: opt('use_cache', isBool, 'true or false'),
    headDim: hiddenSize / numAttentionHeads,
    file,
    raw: j,
  };
  if (typeof dtypeField === 'string') cfg.dtype = dtypeField;
  return cfg;
}

/** Loads `config.json` from a model directory (or the given file path). */
export function loadBioGptConfig(dirOrFile: string): BioGptConfig {
  const file = fs.existsSync(dirOrFile) && fs.statSync(dirOrFile).isDirectory() ? path.join(dirOrFile, 'config.json') : dirOrFile;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new FileFormatError(file, `cannot read config: ${(e as Error).message}`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(file, `config is not valid JSON: ${(e as Error).message}`);
  }
  return parseBioGptConfig(raw, file);
}

export interface ExpectedParam {
  /** Hugging Face name as BioGptForCausalLM saves it (with the `biogpt.` prefix). */
  name: string;
  shape: number[];
  /** Only `output_projection.weight` when embeddings are tied (then it may be stored or not). */
  optional: boolean;
}

/** Every parameter BioGptForCausalLM has for `cfg`, in module order. */
export function expectedBioGptParams(cfg: BioGptConfig): ExpectedParam[] {
  const C = cfg.hiddenSize;
  const F = cfg.intermediateSize;
  const out: ExpectedParam[] = [];
  const add = (name: string, shape: number[], optional = false) => out.push({ name, shape, optional });
  add('biogpt.embed_tokens.weight', [cfg.vocabSize, C]);
  add('biogpt.embed_positions.weight', [cfg.maxPositionEmbeddings + BIOGPT_POSITION_OFFSET, C]);
  for (let l = 0; l < cfg.numHiddenLayers; l++) {
    const p = `biogpt.layers.${l}.`;
    for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) {
      add(`${p}self_attn.${proj}.weight`, [C, C]);
      add(`${p}self_attn.${proj}.bias`, [C]);
    }
    add(`${p}self_attn_layer_norm.weight`, [C]);
    add(`${p}self_attn_layer_norm.bias`, [C]);
    add(`${p}fc1.weight`, [F, C]);
    add(`${p}fc1.bias`, [F]);
    add(`${p}fc2.weight`, [C, F]);
    add(`${p}fc2.bias`, [C]);
    add(`${p}final_layer_norm.weight`, [C]);
    add(`${p}final_layer_norm.bias`, [C]);
  }
  add('biogpt.layer_norm.weight', [C]);
  add('biogpt.layer_norm.bias', [C]);
  add('output_projection.weight', [cfg.vocabSize, C], cfg.tieWordEmbeddings);
  return out;
}

export interface ShapeReport {
  /** 'biogpt.' for BioGptForCausalLM checkpoints, '' for bare BioGptModel ones (no LM head). */
  prefix: 'biogpt.' | '';
  /** Canonical HF name (with `biogpt.`) -> key in this checkpoint. */
  keyOf: Map<string, string>;
  /** Whether the checkpoint stores the LM head separately (torch .bin of a tied model does). */
  hasOutputProjection: boolean;
  /** Keys the model does not use (reported, not an error). */
  unexpected: string[];
}

/**
 * Checks that `reader` holds every parameter the config implies, with matching shapes and a float
 * dtype. Accepts both `biogpt.`-prefixed keys (BioGptForCausalLM.save_pretrained) and unprefixed ones
 * (a bare BioGptModel); throws CheckpointMismatchError listing every problem found.
 */
export function validateCheckpointShapes(cfg: BioGptConfig, reader: CheckpointReader): ShapeReport {
  const prefix: 'biogpt.' | '' = reader.has('biogpt.embed_tokens.weight') || !reader.has('embed_tokens.weight') ? 'biogpt.' : '';
  const keyOf = new Map<string, string>();
  const issues: string[] = [];
  const used = new Set<string>();
  for (const p of expectedBioGptParams(cfg)) {
    const key = p.name.startsWith('biogpt.') ? prefix + p.name.slice('biogpt.'.length) : p.name;
    if (!reader.has(key)) {
      if (!p.optional) issues.push(`missing '${key}'${p.name === 'output_projection.weight' ? ' (tie_word_embeddings is false)' : ''}`);
      continue;
    }
    used.add(key);
    const inf = reader.info(key);
    if (inf.shape.length !== p.shape.length || inf.shape.some((s, i) => s !== p.shape[i])) {
      issues.push(`'${key}' has shape [${inf.shape.join(', ')}], config implies [${p.shape.join(', ')}]`);
    } else if (!isFloatDType(inf.dtype)) {
      issues.push(`'${key}' has non-float dtype ${inf.dtype}`);
    }
    keyOf.set(p.name, key);
  }
  if (issues.length) throw new CheckpointMismatchError(reader.file, issues, cfg.file);
  return {
    prefix,
    keyOf,
    hasOutputProjection: keyOf.has('output_projection.weight'),
    unexpected: reader.keys().filter((k) => !used.has(k)),
  };
}
