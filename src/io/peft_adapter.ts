/**
 * PEFT LoRA adapters as `save_pretrained` writes them (PEFT 0.21): `adapter_config.json` (sorted,
 * 2-space-indented Python JSON) and `adapter_model.safetensors` (metadata {format: pt}) whose keys
 * carry no adapter name, e.g. `base_model.model.biogpt.layers.0.self_attn.q_proj.lora_A.weight`.
 * Older adapters saved as `adapter_model.bin` are read too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileFormatError } from '../errors.js';
import { ConfigFieldError, TensorFormatError } from './io_errors.js';
import type { HostTensor } from './dtype.js';
import { pyJsonDumps } from './pyjson.js';
import { writeDirAtomic } from '../util/atomic.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { TorchBinReader } from './torch_bin.js';
import type { TensorMap, TensorSource } from './reader.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** PeftModelForCausalLM wraps the base model twice (PeftModel.base_model -> LoraModel.model). */
export const PEFT_KEY_PREFIX = 'base_model.model.';

/**
 * Every field PEFT 0.21's LoraConfig writes, with its default. task_type defaults to CAUSAL_LM
 * (PEFT's default is null) since that is the only task radgrad trains; inference_mode is always
 * saved as true, as save_pretrained does.
 */
export const LORA_CONFIG_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  alora_invocation_tokens: null,
  alpha_pattern: {},
  arrow_config: null,
  auto_mapping: null,
  base_model_name_or_path: null,
  bias: 'none',
  corda_config: null,
  ensure_weight_tying: false,
  eva_config: null,
  exclude_modules: null,
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: true,
  kasa_config: null,
  layer_replication: null,
  layers_pattern: null,
  layers_to_transform: null,
  loftq_config: {},
  lora_alpha: 8,
  lora_bias: false,
  lora_dropout: 0.0,
  lora_ga_config: null,
  megatron_config: null,
  megatron_core: 'megatron.core',
  modules_to_save: null,
  monteclora_config: null,
  peft_type: 'LORA',
  peft_version: '0.21.0',
  qalora_group_size: 16,
  r: 8,
  rank_pattern: {},
  revision: null,
  target_modules: null,
  target_parameters: null,
  task_type: 'CAUSAL_LM',
  trainable_token_indices: null,
  use_bdlora: null,
  use_dora: false,
  use_qalora: false,
  use_rslora: false,
  velora_config: null,
});

/** LoraConfig fields typed as float in PEFT (printed 0.0, not 0). */
const FLOAT_FIELDS = new Set(['lora_dropout']);

/** The LoraConfig keyword arguments radgrad uses (snake_case, as in PEFT); others pass through. */
export interface LoraConfigInput {
  r?: number;
  lora_alpha?: number;
  lora_dropout?: number;
  target_modules?: string[] | string | null;
  base_model_name_or_path?: string | null;
  bias?: 'none' | 'all' | 'lora_only';
  task_type?: string | null;
  init_lora_weights?: boolean | string;
  use_rslora?: boolean;
  use_dora?: boolean;
  fan_in_fan_out?: boolean;
  modules_to_save?: string[] | null;
  rank_pattern?: Record<string, number>;
  alpha_pattern?: Record<string, number>;
  revision?: string | null;
  [field: string]: unknown;
}

/** The full adapter_config object PEFT would save for these LoraConfig arguments. */
export function makeAdapterConfig(input: LoraConfigInput): Record<string, unknown> {
  const cfg: Record<string, unknown> = { ...structuredClone(LORA_CONFIG_DEFAULTS) };
  for (const [k, v] of Object.entries(input)) if (v !== undefined) cfg[k] = v;
  cfg.inference_mode = true;
  return cfg;
}

/** adapter_config.json text, byte-identical to PEFT's json.dumps(indent=2, sort_keys=True). */
export function formatAdapterConfig(cfg: Record<string, unknown>): string {
  return pyJsonDumps(cfg, { floatKeys: FLOAT_FIELDS });
}

/** The typed fields radgrad uses from an adapter config (the full JSON stays in `raw`). */
export interface LoraAdapterConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: string[] | string;
  baseModelNameOrPath: string | null;
  bias: string;
  useRslora: boolean;
  useDora: boolean;
  fanInFanOut: boolean;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  /** lora_alpha / r (or / sqrt(r) with rsLoRA): the factor on B·A. */
  scaling: number;
  raw: Record<string, unknown>;
}

export function parseAdapterConfig(raw: unknown, file: string): LoraAdapterConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FileFormatError(file, 'adapter config is not a JSON object');
  const j = { ...LORA_CONFIG_DEFAULTS, ...(raw as Record<string, unknown>) };
  const bad = (f: string, p: string) => new ConfigFieldError(file, f, p);
  if (j.peft_type !== 'LORA') throw bad('peft_type', `is ${JSON.stringify(j.peft_type)}, only "LORA" adapters are supported`);
  const r = j.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0) throw bad('r', `must be a positive integer, got ${JSON.stringify(r)}`);
  const alpha = j.lora_alpha;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw bad('lora_alpha', `must be a number, got ${JSON.stringify(alpha)}`);
  const dropout = j.lora_dropout;
  if (typeof dropout !== 'number' || dropout < 0 || dropout >= 1) throw bad('lora_dropout', `must be a number in [0, 1), got ${JSON.stringify(dropout)}`);
  const tm = j.target_modules;
  const okList = Array.isArray(tm) && tm.length > 0 && tm.every((t) => typeof t === 'string');
  if (!okList && typeof tm !== 'string') throw bad('target_modules', `must be a list of module names or a regex string, got ${JSON.stringify(tm)}`);
  const bools = ['use_rslora', 'use_dora', 'fan_in_fan_out'] as const;
  for (const b of bools) if (typeof j[b] !== 'boolean') throw bad(b, `must be true or false, got ${JSON.stringify(j[b])}`);
  const pattern = (f: 'rank_pattern' | 'alpha_pattern') => {
    const v = j[f] ?? {};
    if (typeof v !== 'object' || Array.isArray(v) || Object.values(v as object).some((x) => typeof x !== 'number')) throw bad(f, 'must map module patterns to numbers');
    return v as Record<string, number>;
  };
  const useRslora = j.use_rslora as boolean;
  return {
    r,
    loraAlpha: alpha,
    loraDropout: dropout,
    targetModules: tm as string[] | string,
    baseModelNameOrPath: typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : null,
    bias: String(j.bias),
    useRslora,
    useDora: j.use_dora as boolean,
    fanInFanOut: j.fan_in_fan_out as boolean,
    rankPattern: pattern('rank_pattern'),
    alphaPattern: pattern('alpha_pattern'),
    scaling: useRslora ? alpha / Math.sqrt(r) : alpha / r,
    raw: raw as Record<string, unknown>,
  };
}

export interface LoraModuleWeights {
  /** [rank, in_features] */
  loraA: HostTensor;
  /** [out_features, rank] */
  loraB: HostTensor;
}

export interface PeftAdapter {
  dir: string;
  config: LoraAdapterConfig;
  /** The weights file read (adapter_model.safetensors, or adapter_model.bin). */
  weightsFile: string;
  /** Every tensor under its saved key. */
  tensors: Map<string, HostTensor>;
  /** Keys that are not LoRA A/B weights (lora_bias biases, modules_to_save copies, DoRA magnitudes...), in file order. */
  otherTensors: string[];
  /** LoRA pairs keyed by module path without the PEFT prefix, e.g. `biogpt.layers.0.self_attn.q_proj`. */
  modules: Map<string, LoraModuleWeights>;
}

/** The saved key of a module's LoRA matrix. */
export function peftKey(modulePath: string, which: 'A' | 'B'): string {
  return `${PEFT_KEY_PREFIX}${modulePath}.lora_${which}.weight`;
}

const LORA_KEY = /^(.*)\.lora_(A|B)\.weight$/;
/** In-memory names like `...lora_A.default.weight`; save_pretrained strips the adapter name. */
const NAMED_KEY = /\.lora_(A|B)\.[^.]+\.weight$/;

/** Reads an adapter directory and checks the tensors against its config. */
export function readPeftAdapter(dir: string): PeftAdapter {
  const cfgFile = path.join(dir, ADAPTER_CONFIG);
  if (!fs.existsSync(cfgFile)) throw new FileFormatError(cfgFile, 'missing (not a PEFT adapter directory?)');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  } catch (e) {
    throw new FileFormatError(cfgFile, `not valid JSON: ${(e as Error).message}`);
  }
  const config = parseAdapterConfig(raw, cfgFile);

  let weightsFile = path.join(dir, ADAPTER_WEIGHTS);
  let tensors: Map<string, HostTensor>;
  if (fs.existsSync(weightsFile)) {
    tensors = readSafetensors(weightsFile).tensors;
  } else {
    weightsFile = path.join(dir, 'adapter_model.bin');
    if (!fs.existsSync(weightsFile)) throw new FileFormatError(path.join(dir, ADAPTER_WEIGHTS), 'missing (and no adapter_model.bin either)');
    const r = TorchBinReader.open(weightsFile);
    try {
      tensors = new Map(r.keys().map((k) => [k, r.read(k)]));
    } finally {
      r.close();
    }
  }

  const halves = new Map<string, Partial<LoraModuleWeights>>();
  const otherTensors: string[] = [];
  for (const [key, t] of tensors) {
    if (NAMED_KEY.test(key)) throw new TensorFormatError(weightsFile, key, 'key carries an adapter name; PEFT saves keys without it');
    const m = LORA_KEY.exec(key);
    if (!m) {
      otherTensors.push(key); // biases / modules_to_save stay in `tensors`; nn/lora's loadAdapter refuses them
      continue;
    }
    const mod = m[1]!.startsWith(PEFT_KEY_PREFIX) ? m[1]!.slice(PEFT_KEY_PREFIX.length) : m[1]!;
    if (t.shape.length !== 2) throw new TensorFormatError(weightsFile, key, `LoRA matrix must be 2-D, got shape [${t.shape.join(', ')}]`);
    const h = halves.get(mod) ?? {};
    h[m[2] === 'A' ? 'loraA' : 'loraB'] = t;
    halves.set(mod, h);
  }
  const modules = new Map<string, LoraModuleWeights>();
  const targets = config.targetModules;
  for (const [mod, h] of halves) {
    const keyA = peftKey(mod, 'A');
    if (!h.loraA || !h.loraB) throw new TensorFormatError(weightsFile, h.loraA ? peftKey(mod, 'B') : keyA, 'missing (LoRA A and B come in pairs)');
    const rank = h.loraA.shape[0]!;
    if (h.loraB.shape[1] !== rank) throw new TensorFormatError(weightsFile, peftKey(mod, 'B'), `shape [${h.loraB.shape.join(', ')}] does not match lora_A rank ${rank}`);
    if (Object.keys(config.rankPattern).length === 0 && rank !== config.r) throw new TensorFormatError(weightsFile, keyA, `rank ${rank} differs from r=${config.r} in ${ADAPTER_CONFIG}`);
    if (Array.isArray(targets) && !targets.some((t) => mod === t || mod.endsWith(`.${t}`))) {
      throw new TensorFormatError(weightsFile, keyA, `module is not among target_modules [${targets.join(', ')}]`);
    }
    modules.set(mod, { loraA: h.loraA, loraB: h.loraB });
  }
  if (modules.size === 0) throw new FileFormatError(weightsFile, 'no lora_A/lora_B tensors found');
  return { dir, config, weightsFile, tensors, otherTensors, modules };
}

export interface WriteAdapterInput {
  /** Either full adapter_config contents (e.g. a read adapter's `config.raw`) or LoraConfig arguments. */
  config: LoraConfigInput;
  /** LoRA pairs by module path (without the PEFT prefix)... */
  modules?: Map<string, { loraA: TensorSource; loraB: TensorSource }>;
  /** ...and/or tensors under their saved keys (e.g. extra biases). */
  tensors?: TensorMap;
}

/**
 * Writes adapter_config.json + adapter_model.safetensors into `dir`, atomically: everything goes to
 * a temp directory that replaces `dir` only when complete.
 */
export function writePeftAdapter(dir: string, input: WriteAdapterInput): void {
  const cfg = makeAdapterConfig(input.config);
  const all = new Map<string, TensorSource>();
  if (input.tensors) {
    const entries = input.tensors instanceof Map ? [...input.tensors] : Symbol.iterator in (input.tensors as object) ? [...(input.tensors as Iterable<[string, TensorSource]>)] : Object.entries(input.tensors);
    for (const [k, v] of entries) all.set(k, v);
  }
  for (const [mod, w] of input.modules ?? []) {
    all.set(peftKey(mod, 'A'), w.loraA);
    all.set(peftKey(mod, 'B'), w.loraB);
  }
  if (all.size === 0) throw new FileFormatError(dir, 'refusing to write an adapter with no tensors');
  // Validate the config the same way a reader will, before touching the disk.
  parseAdapterConfig(cfg, path.join(dir, ADAPTER_CONFIG));
  writeDirAtomic(dir, (tmp) => {
    fs.writeFileSync(path.join(tmp, ADAPTER_CONFIG), formatAdapterConfig(cfg));
    writeSafetensors(path.join(tmp, ADAPTER_WEIGHTS), all, { metadata: { format: 'pt' } });
  });
}
