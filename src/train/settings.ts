/**
 * The Trainer's settings (transformers' TrainingArguments + PEFT LoraConfig, camelCase), their
 * defaults (the seed recipe) and their validation: every value is checked for type and range, in
 * the Trainer constructor and by `radgrad train` for a --config file, so a bad value fails at once
 * with the setting's name, what was expected and what was got.
 */
import { RadgradError } from '../errors.js';
import type { AttnImplementation } from '../models/biogpt/config.js';
import { SCHEDULE_KINDS, isScheduleKind, type ScheduleKind } from './schedule.js';

export class TrainerError extends RadgradError {}

/** A setting with a wrong type or out of range: names the setting, what was expected and what was got. */
export class TrainSettingsError extends TrainerError {
  constructor(
    readonly where: string,
    readonly setting: string,
    readonly expected: string,
    readonly got: unknown,
    hint?: string,
  ) {
    super(`${where}: setting '${setting}' expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`, { hint: hint ?? 'docs/TRAINING.md lists the settings (camelCase in --config, kebab-case flags)' });
  }
}

export interface TrainSettings {
  loraR: number;
  loraAlpha: number;
  loraDropout: number;
  /** Module-name suffixes, or ["all-linear"]: every Linear layer except the output head (PEFT's shorthand). */
  targetModules: string[];
  /** rsLoRA (PEFT use_rslora): scaling alpha/sqrt(r) instead of alpha/r. */
  useRslora: boolean;
  batchSize: number;
  gradAccum: number;
  epochs: number;
  /** Stop after this many optimizer steps (overrides epochs for the schedule's length), 0 = off. */
  maxSteps: number;
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** HF lr_scheduler_type: linear, cosine, constant (no warmup) or constant_with_warmup. */
  schedule: ScheduleKind;
  warmupSteps: number;
  /** HF warmup_ratio: warmup over ceil(ratio · total steps) when warmupSteps is 0. */
  warmupRatio: number;
  maxGradNorm: number;
  maxLength: number;
  /** Evaluate every N steps (0 = only at the end). */
  evalEvery: number;
  /** Evaluate once before the first step (as HF `eval_on_start`): the base model's held-out loss as step 0. */
  evalOnStart: boolean;
  /** Checkpoint every N steps (0 = only at the end / on interrupt). */
  saveEvery: number;
  /**
   * HF save_total_limit: keep only the newest N checkpoint-* folders in outDir (0 = keep all). The
   * checkpoint a resumed run started from is never deleted.
   */
  saveTotalLimit: number;
  /**
   * HF load_best_model_at_end with metric_for_best_model "eval_loss" (lower is better): track the
   * checkpoint with the lowest eval loss, never delete it under saveTotalLimit, and write its
   * adapter as adapter/ at the end. Needs eval data and saveEvery a multiple of evalEvery (> 0).
   */
  loadBestModelAtEnd: boolean;
  seed: number;
  fp16: boolean;
  padId: number;
  /** Plain-mode progress line every N steps. */
  logEvery: number;
  /** Recompute each decoder layer in backward instead of storing its activations (less memory, ~1 more forward). */
  gradientCheckpointing: boolean;
  /** Attention kernels, as transformers' attn_implementation ('eager' | 'flash'; 'sdpa' maps to flash); unset: the model's. */
  attnImplementation?: AttnImplementation;
  /**
   * adapter_config.json's base_model_name_or_path (PEFT writes model.name_or_path: the hub id or
   * path given to from_pretrained, e.g. "microsoft/biogpt"); unset: reportSettings.model, else null.
   */
  baseModelNameOrPath?: string | null;
}

export const DEFAULT_TRAIN_SETTINGS: Readonly<TrainSettings> = Object.freeze({
  loraR: 8, loraAlpha: 16, loraDropout: 0.1, targetModules: ['q_proj', 'v_proj'], useRslora: false,
  batchSize: 4, gradAccum: 4, epochs: 2, maxSteps: 0,
  lr: 2e-4, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0,
  schedule: 'linear' as ScheduleKind, warmupSteps: 0, warmupRatio: 0, maxGradNorm: 1.0, maxLength: 512,
  evalEvery: 50, evalOnStart: false, saveEvery: 200, saveTotalLimit: 0, loadBestModelAtEnd: false, seed: 42, fp16: true, padId: 1, logEvery: 1, gradientCheckpointing: false,
});

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
type Rule = [expected: string, ok: (v: unknown) => boolean, hint?: string];
const posInt: Rule = ['a positive integer', (v) => int(v) && v > 0];
const natInt: Rule = ['an integer >= 0', (v) => int(v) && v >= 0];
const nonNeg: Rule = ['a finite number >= 0', (v) => num(v) && v >= 0];
const bool: Rule = ['true or false', (v) => typeof v === 'boolean'];

const RULES: Record<keyof TrainSettings, Rule> = {
  loraR: posInt,
  loraAlpha: ['a finite number > 0', (v) => num(v) && v > 0],
  loraDropout: ['a number in [0, 1)', (v) => num(v) && v >= 0 && v < 1],
  targetModules: ['a non-empty list of module names', (v) => Array.isArray(v) && v.length > 0 && v.every((t) => typeof t === 'string' && t.length > 0), 'e.g. ["q_proj", "v_proj"] (BioGPT: q_proj, k_proj, v_proj, out_proj, fc1, fc2), or ["all-linear"] for all of them'],
  useRslora: bool,
  batchSize: posInt,
  gradAccum: posInt,
  epochs: posInt,
  maxSteps: natInt,
  lr: nonNeg,
  betas: ['two numbers in [0, 1)', (v) => Array.isArray(v) && v.length === 2 && v.every((b) => num(b) && b >= 0 && b < 1)],
  eps: nonNeg,
  weightDecay: nonNeg,
  schedule: [`one of ${SCHEDULE_KINDS.join(', ')}`, isScheduleKind, `supported schedules (HF lr_scheduler_type names): ${SCHEDULE_KINDS.join(', ')}; 'constant' has no warmup, 'constant_with_warmup' warms up then stays`],
  warmupSteps: [natInt[0], natInt[1], 'for a fraction of the training steps (HF warmup_ratio) set warmupRatio / --warmup-ratio'],
  warmupRatio: ['a number in [0, 1]', (v) => num(v) && v >= 0 && v <= 1],
  maxGradNorm: [nonNeg[0], nonNeg[1], '0 turns clipping off'],
  // SftDataset needs room for a prompt token and a target token.
  maxLength: ['an integer >= 2', (v) => int(v) && v >= 2],
  evalEvery: natInt,
  evalOnStart: bool,
  saveEvery: natInt,
  saveTotalLimit: [natInt[0], natInt[1], '0 keeps every checkpoint; N keeps the newest N'],
  loadBestModelAtEnd: bool,
  seed: natInt,
  fp16: bool,
  padId: natInt,
  logEvery: posInt,
  gradientCheckpointing: bool,
  attnImplementation: ['eager, flash or sdpa', (v) => v === undefined || v === 'eager' || v === 'flash' || v === 'sdpa'],
  baseModelNameOrPath: ['a non-empty string or null', (v) => v === undefined || v === null || (typeof v === 'string' && v.length > 0), 'a hub id such as "microsoft/biogpt" or an absolute path'],
};

export const TRAIN_SETTING_KEYS = Object.keys(RULES) as Array<keyof TrainSettings>;

/**
 * Checks the type and range of every setting present in `s` (unknown keys too) and the
 * combinations that cannot work; `where` names the source (e.g. `--config train.json`).
 */
export function checkTrainSettings(s: Record<string, unknown>, where = 'Trainer'): void {
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined && (k === 'attnImplementation' || k === 'baseModelNameOrPath')) continue;
    const rule = RULES[k as keyof TrainSettings];
    if (!rule) throw new TrainSettingsError(where, k, `one of the known settings`, k, `known settings: ${TRAIN_SETTING_KEYS.join(', ')}`);
    if (!rule[1](v)) throw new TrainSettingsError(where, k, rule[0], v, rule[2]);
  }
  if (s.schedule === 'constant' && ((num(s.warmupSteps) && s.warmupSteps > 0) || (num(s.warmupRatio) && s.warmupRatio > 0))) {
    const which = num(s.warmupSteps) && s.warmupSteps > 0 ? `warmupSteps ${s.warmupSteps}` : `warmupRatio ${s.warmupRatio}`;
    throw new TrainSettingsError(where, 'schedule', "'constant_with_warmup' when warming up", 'constant',
      `'constant' is HF's constant schedule without warmup (${which} would be ignored); use 'constant_with_warmup', or no warmup`);
  }
}

/**
 * loadBestModelAtEnd needs every checkpoint to have an eval loss (HF: save_steps a multiple of
 * eval_steps, the same strategies): evaluations and checkpoints every N steps, saveEvery a multiple
 * of evalEvery. With either at 0 (end only) the best could only be the last step.
 */
export function checkBestModelSettings(s: TrainSettings, where = 'Trainer'): void {
  if (!s.loadBestModelAtEnd) return;
  const fix = 'set saveEvery (--save-every) to a multiple of evalEvery (--eval-every), both > 0, e.g. --eval-every 50 --save-every 200; or drop loadBestModelAtEnd (--load-best-model-at-end)';
  if (s.evalEvery === 0) throw new TrainSettingsError(where, 'evalEvery', 'a number of steps > 0 with loadBestModelAtEnd (0 evaluates at the end only, so only the last checkpoint would have an eval loss)', s.evalEvery, fix);
  if (s.saveEvery === 0) throw new TrainSettingsError(where, 'saveEvery', 'a number of steps > 0 with loadBestModelAtEnd (0 saves at the end only, so the best could only be the last step)', s.saveEvery, fix);
  if (s.saveEvery % s.evalEvery !== 0) {
    throw new TrainSettingsError(where, 'saveEvery', `a multiple of evalEvery ${s.evalEvery} with loadBestModelAtEnd (as HF's save_steps / eval_steps), so every checkpoint has an eval loss`, s.saveEvery, fix);
  }
}

/** Defaults overlaid with `s` (undefined values do not override), validated. */
export function resolveTrainSettings(s: Partial<TrainSettings> = {}, where = 'Trainer'): TrainSettings {
  const given = Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as Partial<TrainSettings>;
  const out = { ...DEFAULT_TRAIN_SETTINGS, ...given };
  checkTrainSettings(out as unknown as Record<string, unknown>, where);
  checkBestModelSettings(out, where);
  return out;
}

/**
 * The settings a resumed run must share with the checkpoint's for the run to continue as it was:
 * data order and eval split (seed, batch, accumulation, max length, pad), the schedule and its
 * length, the optimizer, and the LoRA layout (which the checkpoint's adapter fixes anyway).
 * Evaluation/saving cadence, precision and kernels may change.
 */
export const RESUME_SETTINGS: ReadonlyArray<keyof TrainSettings> = [
  'seed', 'batchSize', 'gradAccum', 'maxLength', 'padId', 'epochs', 'maxSteps',
  'lr', 'schedule', 'warmupSteps', 'warmupRatio', 'betas', 'eps', 'weightDecay', 'maxGradNorm',
  'loraR', 'loraAlpha', 'loraDropout', 'targetModules', 'useRslora',
];

export interface SettingDifference {
  /** A setting name, or `data.<key>` for what the run trains and evaluates on. */
  name: string;
  checkpoint: unknown;
  now: unknown;
}

const norm = (k: string, v: unknown) => JSON.stringify(k === 'targetModules' && Array.isArray(v) ? [...v].sort() : v);

/**
 * How this run differs from the checkpoint's run: RESUME_SETTINGS (a setting missing from an older
 * checkpoint counts as its default) and every data key both sides record.
 */
export function resumeDifferences(saved: Record<string, unknown>, now: TrainSettings, savedData: Record<string, unknown> = {}, nowData: Record<string, unknown> = {}): SettingDifference[] {
  const out: SettingDifference[] = [];
  for (const k of RESUME_SETTINGS) {
    const c = saved[k] === undefined ? DEFAULT_TRAIN_SETTINGS[k] : saved[k];
    if (norm(k, c) !== norm(k, now[k])) out.push({ name: k, checkpoint: c, now: now[k] });
  }
  for (const k of Object.keys(nowData)) {
    if (k in savedData && JSON.stringify(savedData[k]) !== JSON.stringify(nowData[k])) out.push({ name: `data.${k}`, checkpoint: savedData[k], now: nowData[k] });
  }
  return out;
}

/** A resume whose settings differ from the checkpoint's: lists every difference. */
export class ResumeMismatchError extends TrainerError {
  constructor(
    readonly checkpoint: string,
    readonly differences: SettingDifference[],
  ) {
    super(`--resume ${checkpoint}: this run's settings differ from the checkpoint's run:\n${formatDifferences(differences)}`, {
      hint: `pass the same flags and --config as the run that wrote it (its settings are in ${checkpoint}/trainer_state.json, "settings" and "data"), or --allow-setting-changes (Trainer option allowSettingChanges) to continue with the new ones`,
    });
  }
}

export function formatDifferences(d: SettingDifference[]): string {
  return d.map((x) => `  ${x.name}: checkpoint ${JSON.stringify(x.checkpoint)}, this run ${JSON.stringify(x.now)}`).join('\n');
}
