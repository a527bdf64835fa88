/**
 * LoRA (Hu et al. 2021) as PEFT 0.21's LoraModel: every Linear-like module whose dotted path ends in
 * one of `targetModules` is replaced by a LoRALinear holding the frozen original under `base_layer`
 * and two small trainable projections:
 *
 *   y = base(x) + (alpha / r) · lora_B(lora_A(dropout(x)))     A [r, in], B [out, r]
 *
 * (rsLoRA, PEFT's use_rslora: alpha / sqrt(r) instead of alpha / r.) target_modules "all-linear"
 * expands as PEFT's _maybe_include_all_linear_layers: every Linear layer's path except the output head.
 * A is kaiming_uniform(a=√5) and B zeros (PEFT's default init_lora_weights=True), so a fresh adapter
 * leaves the model unchanged. Parameter paths mirror PEFT's minus the adapter name
 * (`...q_proj.lora_A.weight`), which is exactly the saved key after the `base_model.model.` prefix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RadgradError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { noGrad } from '../autograd/tape.js';
import { add, mul } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { dropout } from '../ops/nn/dropout.js';
import { loraLinear } from '../ops/lora_linear.js';
import { fromFloat32, toFloat32, torchDtypeName, type SaveDType } from '../io/dtype.js';
import { writeDirAtomic } from '../util/atomic.js';
import { writeSafetensors } from '../io/safetensors.js';
import { pyJsonDumps } from '../io/pyjson.js';
import type { TensorSource } from '../io/reader.js';
import { ADAPTER_CONFIG, peftKey, readPeftAdapter, writePeftAdapter, type LoraConfigInput, type PeftAdapter } from '../io/peft_adapter.js';
import { Module, deferParameterInit, type StateValue } from './module.js';
import { Linear, linear, type LinearLike, type LinearModule } from './linear.js';
import { Dropout } from './dropout.js';
import { Int8Linear } from './int8_linear.js';
import { kaimingUniform } from './init.js';
import { hashSeed } from '../data/rng.js';

/** A LoRA setup problem (no module matched, adapter does not fit the model, merge impossible). */
export class LoraError extends RadgradError {}

export interface LoraConfig {
  r: number;
  alpha: number;
  /** Dropout on the LoRA branch input (PEFT lora_dropout). */
  dropout: number;
  /**
   * Module-name suffixes ("q_proj" matches "...self_attn.q_proj"), or a regex string matched against
   * the full path (PEFT); "all-linear" (or ["all-linear"]) is every Linear layer but the output head.
   */
  targetModules: string[] | string;
  bias: 'none';
  /** rsLoRA (PEFT use_rslora): scaling alpha/sqrt(r) instead of alpha/r. */
  useRslora?: boolean;
  /** Written to adapter_config.json (base_model_name_or_path). */
  baseModelNameOrPath?: string | null;
  /** Modules left out although targeted (PEFT exclude_modules): names (exact or `.suffix`) or a regex string. */
  excludeModules?: string[] | string | null;
  /** Only these decoder layer indices (PEFT layers_to_transform; applies to list target_modules, not a regex). */
  layersToTransform?: number[] | number | null;
  /** The ModuleList name(s) the layer index follows (PEFT layers_pattern, e.g. "layers"); unset: any. */
  layersPattern?: string[] | string | null;
  /** Other adapter_config.json fields to keep as they are (e.g. from a loaded adapter). */
  extra?: Record<string, unknown>;
}

export const DEFAULT_LORA_CONFIG: Readonly<LoraConfig> = Object.freeze({ r: 8, alpha: 16, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], bias: 'none' as const });

/** PEFT's INCLUDE_LINEAR_LAYERS_SHORTHAND. */
export const ALL_LINEAR = 'all-linear';
/** Names of the output head (transformers' get_output_embeddings()), which "all-linear" leaves out. */
const OUTPUT_HEADS = ['output_projection', 'lm_head'];

/** Whether target_modules is PEFT's "all-linear" shorthand (any case; radgrad also takes the one-entry list ["all-linear"]). */
export function isAllLinear(target: string[] | string): boolean {
  const t = typeof target === 'string' ? target : target.length === 1 ? target[0]! : '';
  return t.toLowerCase() === ALL_LINEAR;
}

/**
 * target_modules "all-linear" as PEFT 0.21's _maybe_include_all_linear_layers: the full path of every
 * Linear-like module except the output head (BioGPT: q/k/v/out_proj, fc1 and fc2 of every layer).
 */
export function allLinearTargets(model: Module): string[] {
  return model.namedModules().filter(([p, m]) => p !== '' && isLinearLike(m) && !OUTPUT_HEADS.includes(p)).map(([p]) => p).sort();
}

/** Whether module path `p` matches `target_modules` (exact or `.suffix` for a list, a full regex match for a string). */
export function matchesTarget(p: string, target: string[] | string): boolean {
  if (typeof target === 'string') return new RegExp(`^(?:${target})$`).test(p);
  return target.some((t) => p === t || p.endsWith(`.${t}`));
}

/**
 * Whether `config` puts LoRA on module path `p`, as PEFT 0.21's check_target_module_exists:
 * exclude_modules first; then target_modules; layers_to_transform only for a list entry matched as a
 * suffix, the layer index read from `<pattern>.<n>.` in the path (any `<name>.<n>.` without pattern).
 */
export function isLoraTarget(p: string, config: Pick<LoraConfig, 'targetModules' | 'excludeModules' | 'layersToTransform' | 'layersPattern'>): boolean {
  const ex = config.excludeModules;
  if (ex && (typeof ex === 'string' ? new RegExp(`^(?:${ex})$`).test(p) : ex.length > 0 && matchesTarget(p, ex))) return false;
  const target = config.targetModules;
  if (typeof target === 'string' || target.includes(p)) return matchesTarget(p, target);
  if (!matchesTarget(p, target)) return false;
  const layers = config.layersToTransform;
  if (layers === null || layers === undefined || (Array.isArray(layers) && layers.length === 0)) return true;
  const pat = config.layersPattern;
  const pats = pat === null || pat === undefined || pat.length === 0 ? ['[^.]*'] : typeof pat === 'string' ? [pat] : pat;
  for (const q of pats) {
    const m = new RegExp(`^.*\\.${q}\\.(\\d+)\\.`).exec(p);
    if (m) return Array.isArray(layers) ? layers.includes(Number(m[1])) : Number(m[1]) === layers;
  }
  return false;
}

function isLinearLike(m: Module): m is LinearModule {
  const l = m as unknown as Partial<LinearLike>;
  return typeof l.inFeatures === 'number' && typeof l.outFeatures === 'number' && typeof l.forward === 'function';
}

/** A bias-free Linear whose weight is given (deferred construction, so no throwaway init). */
function linearWith(inF: number, outF: number, w: Tensor): Linear {
  const l = deferParameterInit(() => new Linear(inF, outF, { bias: false }));
  l.loadStateDict({ weight: w });
  return l;
}

export class LoRALinear extends Module implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly r: number;
  readonly alpha: number;
  /** alpha/r, or alpha/sqrt(r) with rsLoRA. */
  readonly scaling: number;
  readonly useRslora: boolean;
  readonly base_layer: LinearModule;
  readonly lora_dropout: Dropout;
  readonly lora_A: Linear;
  readonly lora_B: Linear;
  /** When true the LoRA branch is skipped (base model only). */
  disabled = false;

  constructor(base: LinearModule, opts: { r: number; alpha: number; dropout: number; seed: number; useRslora?: boolean }) {
    super();
    if (!(Number.isInteger(opts.r) && opts.r > 0)) throw new LoraError(`LoRA rank r must be a positive integer, got ${opts.r}`);
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.r = opts.r;
    this.alpha = opts.alpha;
    this.useRslora = !!opts.useRslora;
    this.scaling = this.useRslora ? opts.alpha / Math.sqrt(opts.r) : opts.alpha / opts.r;
    this.base_layer = this.addModule('base_layer', base);
    this.lora_dropout = this.addModule('lora_dropout', new Dropout(opts.dropout, { seed: hashSeed(opts.seed, 'dropout') }));
    // B = 0 makes the initial adapter an exact no-op (PEFT's default); A as nn.Linear's default init.
    const a = noGrad(() => kaimingUniform([opts.r, this.inFeatures], Math.sqrt(5), hashSeed(opts.seed, 'lora_A')));
    const b = noGrad(() => new Tensor(a.backend.full([this.outFeatures, opts.r], 'f32', 0), a.backend));
    this.lora_A = this.addModule('lora_A', linearWith(this.inFeatures, opts.r, a));
    this.lora_B = this.addModule('lora_B', linearWith(opts.r, this.outFeatures, b));
    a.dispose();
    b.dispose();
  }

  forward(x: Tensor): Tensor {
    if (this.disabled) return this.base_layer.forward(x);
    // The dropout module supplies the mask seed exactly as its own forward would (same sequence).
    const d = this.lora_dropout;
    const active = d.training && d.p > 0;
    const seed = active ? d.nextSeed() : 0;
    if (active) d.calls++;
    const opts = { alpha: this.alpha, scale: this.scaling, dropout: active ? d.p : 0, seed };
    const base = this.base_layer;
    const [a, b] = [this.lora_A.weight, this.lora_B.weight];
    // A float or int8 base goes through the fused LoRA linear (src/ops/lora_linear.ts).
    if (base instanceof Linear) return loraLinear(x, base.weight, base.bias, a, b, opts);
    const q = (base as { q?: unknown }).q;
    if (q instanceof Int8Linear) return loraLinear(x, q.weight, q.bias, a, b, { ...opts, threshold: q.threshold, forceFallback: q.forceFallback });
    // Any other LinearModule: its forward plus the unfused branch, scaled at rank r (r << out).
    const xd = active ? dropout(x, d.p, { seed }) : x;
    return add(base.forward(x), linear(mul(linear(xd, a), this.scaling), b));
  }

  /** scaling · B · A, [out, in]. */
  delta(): Tensor {
    return noGrad(() => mul(matmul(this.lora_B.weight, this.lora_A.weight), this.scaling));
  }

  override toString(): string {
    return `lora.Linear(in_features=${this.inFeatures}, out_features=${this.outFeatures}, r=${this.r}, alpha=${this.alpha}${this.useRslora ? ', rslora' : ''})`;
  }
}

/** Every LoRALinear in `model`, by module path. */
export function loraModules(model: Module): Map<string, LoRALinear> {
  const out = new Map<string, LoRALinear>();
  for (const [p, m] of model.namedModules()) if (m instanceof LoRALinear) out.set(p, m);
  return out;
}

/** LoRA configs of models that went through applyLora (for saveAdapter). */
const configs = new WeakMap<Module, LoraConfig>();

export function loraConfigOf(model: Module): LoraConfig | undefined {
  return configs.get(model);
}

/**
 * Freezes `model` and wraps every targeted Linear-like module in a LoRALinear (seeded per module
 * path, so the same seed gives the same A on any backend). Returns the wrapped module paths.
 */
export function applyLora(model: Module, config: LoraConfig, seed = 0): string[] {
  if (config.bias !== 'none') throw new LoraError(`LoRA bias '${String(config.bias)}' is not supported`, { hint: "use bias: 'none' (PEFT's default)" });
  if (loraModules(model).size) throw new LoraError('applyLora: the model already has LoRA layers', { hint: 'mergeAndUnload() first, or load the adapter into a fresh model' });
  // "all-linear" becomes the module paths it stands for, as PEFT rewrites target_modules (and saves them).
  if (isAllLinear(config.targetModules)) config = { ...config, targetModules: allLinearTargets(model) };
  model.freeze();
  const targets = model.namedModules().filter(([p, m]) => p !== '' && isLinearLike(m) && isLoraTarget(p, config));
  if (!targets.length) {
    const narrowed = [['exclude_modules', config.excludeModules], ['layers_to_transform', config.layersToTransform], ['layers_pattern', config.layersPattern]].filter(([, v]) => v !== null && v !== undefined);
    throw new LoraError(`applyLora: no Linear module matches target_modules ${JSON.stringify(config.targetModules)}${narrowed.map(([k, v]) => `, ${k} ${JSON.stringify(v)}`).join('')}`, {
      hint: 'BioGPT projections are q_proj, k_proj, v_proj, out_proj, fc1, fc2',
    });
  }
  const wasTraining = model.training;
  for (const [p, m] of targets) {
    const w = new LoRALinear(m as LinearModule, { r: config.r, alpha: config.alpha, dropout: config.dropout, seed: hashSeed(seed >>> 0, p), useRslora: !!config.useRslora });
    w.train(wasTraining);
    model.setSubmodule(p, w);
  }
  configs.set(model, { ...config });
  return targets.map(([p]) => p);
}

/** PEFT's print_trainable_parameters() line (tied weights counted once, LoRA included in all). */
export function trainableParametersLine(model: Module): string {
  const trainable = model.numParameters({ trainableOnly: true });
  const all = model.numParameters();
  const fmt = (n: number) => n.toLocaleString('en-US');
  return `trainable params: ${fmt(trainable)} || all params: ${fmt(all)} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
}

/** The adapter_config.json arguments for a LoraConfig. */
export function adapterConfigInput(c: LoraConfig): LoraConfigInput {
  return {
    ...(c.extra ?? {}),
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: c.targetModules,
    bias: c.bias,
    use_rslora: !!c.useRslora,
    ...(c.baseModelNameOrPath !== undefined ? { base_model_name_or_path: c.baseModelNameOrPath } : {}),
    ...(c.excludeModules !== undefined ? { exclude_modules: c.excludeModules } : {}),
    ...(c.layersToTransform !== undefined ? { layers_to_transform: c.layersToTransform } : {}),
    ...(c.layersPattern !== undefined ? { layers_pattern: c.layersPattern } : {}),
  };
}

async function hostF32(t: Tensor): Promise<TensorSource> {
  const d = await t.data();
  return { dtype: 'f32', shape: [...t.shape], data: d instanceof Float32Array ? d : Float32Array.from(d) };
}

/** Writes the adapter as PEFT's save_pretrained does (adapter_config.json + adapter_model.safetensors), atomically. */
export async function saveAdapter(model: Module, dir: string, config: LoraConfig | undefined = loraConfigOf(model)): Promise<void> {
  if (!config) throw new LoraError('saveAdapter: the model has no LoRA config', { hint: 'call applyLora() or loadAdapter() first' });
  const mods = loraModules(model);
  if (!mods.size) throw new LoraError('saveAdapter: the model has no LoRA layers');
  const modules = new Map<string, { loraA: TensorSource; loraB: TensorSource }>();
  for (const [p, l] of mods) modules.set(p, { loraA: await hostF32(l.lora_A.weight), loraB: await hostF32(l.lora_B.weight) });
  writePeftAdapter(dir, { config: adapterConfigInput(config), modules });
}

/** The LoraConfig of a PEFT adapter directory (its other fields kept in `extra`); throws on what radgrad cannot honour. */
export function readAdapterConfig(dir: string): LoraConfig {
  const ad = readPeftAdapter(dir);
  const cfg = toLoraConfig(ad.config.raw, dir);
  checkAdapterTensors(ad);
  return cfg;
}

/**
 * An adapter whose config or tensors ask for something radgrad's LoRA does not compute (PEFT would
 * load it and give different outputs): names the field (or tensor), its value and what is supported.
 */
export class UnsupportedAdapterError extends LoraError {
  constructor(
    readonly file: string,
    /** The adapter_config.json field, or 'tensors' for tensors radgrad would not use. */
    readonly field: string,
    readonly value: unknown,
    readonly supported: string,
    hint: string,
  ) {
    super(`${file}: '${field}' is ${JSON.stringify(value)}; radgrad supports ${supported}`, { hint });
  }
}

const isOff = (v: unknown) => v === null || v === false || (Array.isArray(v) && !v.length) || (typeof v === 'object' && v !== null && !Object.keys(v).length);
const PLAIN = 'radgrad loads plain LoRA adapters (lora_A/lora_B on Linear layers, scaling alpha/r, or alpha/sqrt(r) with use_rslora); re-save the adapter without this option, or use PEFT';
/** adapter_config.json fields that change the forward pass: the values radgrad computes as PEFT does. */
const FIELD_RULES: Record<string, { supported: string; ok: (v: unknown) => boolean; hint?: string }> = {
  bias: { supported: '"none"', ok: (v) => v === 'none' },
  lora_bias: { supported: 'false (no lora_B bias)', ok: (v) => v === false },
  use_dora: { supported: 'false (no DoRA)', ok: (v) => v === false },
  use_qalora: { supported: 'false', ok: (v) => v === false },
  rank_pattern: { supported: '{} (one rank for every module)', ok: isOff },
  alpha_pattern: { supported: '{} (one alpha for every module)', ok: isOff },
  modules_to_save: { supported: 'null (no fully trained modules)', ok: isOff },
  trainable_token_indices: { supported: 'null (no trainable token rows)', ok: isOff },
  target_parameters: { supported: 'null (LoRA on modules only)', ok: isOff },
  layer_replication: { supported: 'null (the architecture unchanged)', ok: isOff },
  alora_invocation_tokens: { supported: 'null (the adapter active on every token)', ok: isOff },
  ensure_weight_tying: { supported: 'false', ok: (v) => v === false },
  init_lora_weights: {
    supported: 'true, false or "gaussian" (inits that leave the base weights as they are)',
    ok: (v) => v === true || v === false || v === 'gaussian',
    hint: 'PiSSA/OLoRA/CorDA/LoftQ/LoRA-GA adapters rewrite the base weights when PEFT loads them; save a PiSSA/OLoRA adapter with path_initial_model_for_weight_conversion to get a plain one',
  },
  exclude_modules: { supported: 'null, a list of module names or a regex string', ok: (v) => v === null || typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')) },
  layers_to_transform: { supported: 'null, a layer index or a list of them', ok: (v) => v === null || Number.isInteger(v) || (Array.isArray(v) && v.every((x) => Number.isInteger(x))) },
  layers_pattern: { supported: 'null, a name or a list of names', ok: (v) => v === null || typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')) },
};
/**
 * Fields whose value does not change what a loaded adapter computes, or that radgrad computes as
 * PEFT does: metadata, the ones parseAdapterConfig checks and toLoraConfig reads (r, lora_alpha,
 * lora_dropout, target_modules, use_rslora: scaling alpha/sqrt(r)), fan_in_fan_out (PEFT forces false for nn.Linear), and settings only
 * read by an init that init_lora_weights above rules out or by options above that must be off.
 */
const INERT_FIELDS = new Set([
  'base_model_name_or_path', 'revision', 'peft_version', 'peft_type', 'inference_mode', 'task_type', 'auto_mapping',
  'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'fan_in_fan_out', 'use_rslora',
  'loftq_config', 'eva_config', 'corda_config', 'lora_ga_config', 'megatron_core', 'qalora_group_size',
]);

/** Checks every adapter_config.json field against what radgrad computes (PEFT 0.21's field set). */
export function checkAdapterConfigSupport(raw: Record<string, unknown>, dir: string): void {
  for (const [field, value] of Object.entries(raw)) {
    if (INERT_FIELDS.has(field)) continue;
    const rule = FIELD_RULES[field];
    if (rule) {
      if (!rule.ok(value)) throw new UnsupportedAdapterError(path.join(dir, ADAPTER_CONFIG), field, value, rule.supported, rule.hint ?? PLAIN);
    } else if (!isOff(value)) {
      // Another PEFT option (kasa/arrow/velora/monteclora/megatron/bdlora configs, or one newer than 0.21): radgrad has none.
      throw new UnsupportedAdapterError(path.join(dir, ADAPTER_CONFIG), field, value, 'only null / false / empty here (radgrad implements no such LoRA option)', PLAIN);
    }
  }
}

/** The tensor names that say which PEFT option wrote a non-LoRA tensor. */
function tensorCause(key: string): string {
  if (/\.lora_B\.bias$/.test(key)) return 'lora_bias';
  if (/lora_magnitude_vector/.test(key)) return 'DoRA';
  if (/lora_embedding_[AB]/.test(key)) return 'LoRA on an Embedding';
  if (/trainable_tokens/.test(key)) return 'trainable_token_indices';
  return 'modules_to_save?';
}

/** Rejects an adapter file holding tensors that are not lora_A/lora_B weights (radgrad would drop them). */
export function checkAdapterTensors(ad: PeftAdapter): void {
  if (!ad.otherTensors.length) return;
  const shown = ad.otherTensors.slice(0, 4).map((k) => `${k} (${tensorCause(k)})`);
  throw new UnsupportedAdapterError(ad.weightsFile, 'tensors', shown.concat(ad.otherTensors.length > 4 ? [`… ${ad.otherTensors.length - 4} more`] : []), 'only <module>.lora_A.weight / <module>.lora_B.weight tensors', PLAIN);
}

function toLoraConfig(raw: Record<string, unknown>, dir: string): LoraConfig {
  checkAdapterConfigSupport(raw, dir);
  const excludeModules = raw.exclude_modules as LoraConfig['excludeModules'];
  const layersToTransform = raw.layers_to_transform as LoraConfig['layersToTransform'];
  const layersPattern = raw.layers_pattern as LoraConfig['layersPattern'];
  return {
    r: raw.r as number,
    alpha: (raw.lora_alpha as number) ?? 8,
    dropout: (raw.lora_dropout as number) ?? 0,
    targetModules: raw.target_modules as string[] | string,
    bias: 'none',
    useRslora: raw.use_rslora === true,
    baseModelNameOrPath: (raw.base_model_name_or_path as string | null | undefined) ?? null,
    ...(excludeModules !== undefined ? { excludeModules } : {}),
    ...(layersToTransform !== undefined ? { layersToTransform } : {}),
    ...(layersPattern !== undefined ? { layersPattern } : {}),
    extra: { ...raw },
  };
}

/** An adapter tensor whose shape does not fit the model's LoRA layer (another model size, or another rank). */
export class AdapterShapeError extends LoraError {
  constructor(
    /** The adapter folder. */
    readonly adapter: string,
    /** The tensor's key in the adapter file, e.g. base_model.model.biogpt.layers.0.self_attn.q_proj.lora_A.weight. */
    readonly key: string,
    readonly expected: readonly number[],
    readonly got: readonly number[],
    baseModel: string | null | undefined,
  ) {
    super(`adapter ${adapter}: tensor ${key} has shape [${got.join(', ')}], the model expects [${expected.join(', ')}]`, {
      hint: `the adapter was trained on a model of another size (hidden_size / intermediate_size) or with another r: load it with the base model it was trained on${baseModel ? ` (adapter_config.json names ${baseModel})` : ''}`,
    });
  }
}

/**
 * Loads a PEFT adapter directory into `model`: applies LoRA with the adapter's config when the model
 * has none yet, then writes every lora_A/lora_B in place. Every module must match both ways, and
 * every tensor's shape ([r, in] and [out, r]) is checked before any is written (AdapterShapeError).
 */
export function loadAdapter(model: Module, dir: string, opts: { seed?: number; dropout?: number } = {}): LoraConfig {
  const ad = readPeftAdapter(dir);
  const cfg = toLoraConfig(ad.config.raw, dir);
  checkAdapterTensors(ad);
  if (opts.dropout !== undefined) cfg.dropout = opts.dropout;
  let mods = loraModules(model);
  if (!mods.size) {
    applyLora(model, cfg, opts.seed ?? 0);
    mods = loraModules(model);
  } else {
    configs.set(model, cfg);
  }
  const missing = [...mods.keys()].filter((p) => !ad.modules.has(p));
  const extra = [...ad.modules.keys()].filter((p) => !mods.has(p));
  if (missing.length || extra.length) {
    throw new LoraError(`${dir}: adapter does not fit the model${missing.length ? `; no weights for ${missing.slice(0, 4).join(', ')}` : ''}${extra.length ? `; no module ${extra.slice(0, 4).join(', ')}` : ''}`, {
      hint: 'was the adapter trained on this architecture with the same target_modules?',
    });
  }
  for (const [p, w] of ad.modules) {
    const l = mods.get(p)!;
    const want: Array<['A' | 'B', readonly number[], readonly number[]]> = [['A', [l.r, l.inFeatures], w.loraA.shape], ['B', [l.outFeatures, l.r], w.loraB.shape]];
    for (const [which, expected, got] of want) {
      if (expected.join() !== got.join()) throw new AdapterShapeError(dir, peftKey(p, which), expected, got, cfg.baseModelNameOrPath);
    }
  }
  for (const [p, w] of ad.modules) {
    const l = mods.get(p)!;
    const val = (h: typeof w.loraA): StateValue => ({ shape: h.shape, data: toFloat32(h) });
    l.lora_A.loadStateDict({ weight: val(w.loraA) });
    l.lora_B.loadStateDict({ weight: val(w.loraB) });
  }
  return cfg;
}

/**
 * Folds every LoRA branch into its base weight (W += (alpha/r)·B·A) and puts the base Linear back
 * at its path, as PEFT's merge_and_unload(). Needs float Linear bases (an int8 base cannot absorb
 * a float delta without requantising).
 */
export function mergeAndUnload(model: Module): void {
  const mods = loraModules(model);
  if (!mods.size) throw new LoraError('mergeAndUnload: the model has no LoRA layers');
  for (const [p, l] of mods) {
    if (!(l.base_layer instanceof Linear)) throw new LoraError(`mergeAndUnload: ${p} wraps a ${l.base_layer.constructor.name}, only a float Linear can be merged`, { hint: 'load the base model without --int8 to merge' });
  }
  for (const [p, l] of mods) {
    const base = l.base_layer as Linear;
    tidy(() => {
      const merged = noGrad(() => add(base.weight, l.delta()));
      base.loadStateDict({ weight: merged }, { strict: false }); // in place: references stay valid
    });
    model.setSubmodule(p, base);
    l.lora_A.dispose();
    l.lora_B.dispose();
  }
  configs.delete(model);
}

/**
 * Writes `model` (no LoRA layers left) as a Hugging Face checkpoint: model.safetensors with every
 * parameter under its HF name (a tied head stored once, as save_pretrained) plus config.json, whose
 * torch_dtype / dtype name what was written. `dtype` (default f32) is the weights' dtype, as
 * save_pretrained keeps the model's: merge passes the base checkpoint's. A value beyond the dtype's
 * range (it would be written as inf) is refused.
 */
export async function saveMergedCheckpoint(model: Module, dir: string, configJson: Record<string, unknown>, opts: { dtype?: SaveDType } = {}): Promise<void> {
  if (loraModules(model).size) throw new LoraError('saveMergedCheckpoint: the model still has LoRA layers', { hint: 'call mergeAndUnload() first' });
  const dtype = opts.dtype ?? 'f32';
  const tensors = new Map<string, TensorSource>();
  for (const [name, t] of model.namedParameters()) {
    const h = await hostF32(t);
    const { data, overflow } = fromFloat32(dtype, h.data as Float32Array);
    if (overflow) {
      throw new LoraError(`saveMergedCheckpoint: ${overflow} value(s) of ${name} are beyond the ${torchDtypeName(dtype)} range and would be written as inf`, { hint: 'write float32 (merge --dtype float32), or bfloat16 which has float32\'s range' });
    }
    tensors.set(name, { dtype, shape: h.shape, data });
  }
  const name = torchDtypeName(dtype);
  fs.mkdirSync(path.dirname(path.resolve(dir)), { recursive: true });
  writeDirAtomic(dir, (tmp) => {
    writeSafetensors(path.join(tmp, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
    // dtype (transformers >= 4.56 / 5) and torch_dtype (older readers) both name what was written.
    fs.writeFileSync(path.join(tmp, 'config.json'), pyJsonDumps({ ...configJson, dtype: name, torch_dtype: name }) + '\n');
  });
}
