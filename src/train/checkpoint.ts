/**
 * Training checkpoints, one directory each (`checkpoint-<step>/`), written atomically (a temp
 * sibling filled, then swapped in) so an interrupted save never leaves a half checkpoint:
 *   adapter_config.json + adapter_model.safetensors   the LoRA adapter, PEFT format
 *   optimizer.safetensors                             AdamW exp_avg / exp_avg_sq per parameter
 *   trainer_state.json                                step, epoch, scheduler, loss scale, dropout
 *                                                     RNG counters, AdamW scalars, settings, and
 *                                                     HF TrainerState's fields (log_history, ...)
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FileFormatError, RadgradError } from '../errors.js';
import type { AdamWState } from '../ops/optim.js';
import type { Module } from '../nn/module.js';
import { Dropout } from '../nn/dropout.js';
import { saveAdapter, type LoraConfig } from '../nn/lora.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { swapDirInto } from '../util/atomic.js';
import type { TensorSource } from '../io/reader.js';
import type { LossScalerState } from './loss_scale.js';

export const TRAINER_STATE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

export interface DropoutState {
  baseSeed: number;
  calls: number;
}

/**
 * One entry of HF's `log_history`, as transformers' Trainer.log appends them: a training log
 * `{loss, grad_norm, learning_rate, epoch, step}` or an evaluation `{eval_loss, epoch, step}`.
 * A non-finite value is written as null (JSON has no NaN).
 */
export type HfLogEntry = Record<string, number | null>;

/** A metrics row as far as HF's log_history can hold it. */
export interface LoggedMetrics {
  step: number;
  epoch: number;
  loss?: number | null;
  lr?: number | null;
  gradNorm?: number | null;
  evalLoss?: number | null;
}

/**
 * The fields of HF's TrainerState (transformers trainer_callback.py) that trainer_state.json holds
 * beside radgrad's own, so tools that read an HF checkpoint's state (log_history, global_step,
 * max_steps, best_*) read a radgrad one. Absent in checkpoints written before they were added.
 * Not written: total_flos (not counted) and stateful_callbacks (no HF callbacks run here).
 */
export interface HfTrainerStateFields {
  global_step: number;
  max_steps: number;
  num_train_epochs: number;
  /** 1: log_history holds every step, as metrics.jsonl does. */
  logging_steps: number;
  /** evalEvery and saveEvery (0: only at the end). */
  eval_steps: number;
  save_steps: number;
  /** The micro-batch, as HF's per-device train batch size. */
  train_batch_size: number;
  /** Non-padding tokens trained on (HF include_num_input_tokens_seen="non_padding"). */
  num_input_tokens_seen: number;
  log_history: HfLogEntry[];
  is_local_process_zero: boolean;
  is_world_process_zero: boolean;
  is_hyper_param_search: boolean;
  trial_name: null;
  trial_params: null;
}

export interface TrainerState extends Partial<HfTrainerStateFields> {
  format: 'radgrad-trainer-1';
  /** Optimizer steps completed (skipped overflow steps included, as HF's global_step). */
  globalStep: number;
  /** Steps the optimizer actually applied (the scheduler's position). */
  optimizerSteps: number;
  epoch: number;
  totalSteps: number;
  stepsPerEpoch: number;
  seed: number;
  tokensSeen: number;
  /** Seconds of training before this checkpoint (for the metrics' time axis). */
  elapsed: number;
  lossScaler: LossScalerState;
  optimizer: { stepCount: number; lr: number; betas: [number, number]; eps: number; steps: Array<number | null>; names: Array<string | null> };
  dropout: Record<string, DropoutState>;
  settings: Record<string, unknown>;
  /** What the run trained and evaluated on (example counts, the eval split's parameters), checked on resume; absent in older checkpoints. */
  data?: Record<string, unknown>;
  /**
   * HF's trainer_state.json fields (metric_for_best_model eval_loss, lower is better): the lowest
   * eval loss of a checkpointed step so far, that checkpoint's folder and step; null before any
   * checkpoint had an eval loss, and always without loadBestModelAtEnd (as HF without a
   * metric_for_best_model). Absent in older checkpoints.
   */
  best_metric?: number | null;
  best_model_checkpoint?: string | null;
  best_global_step?: number | null;
}

/** A metrics row as HF's log_history entries: the training log, then the step's evaluation (HF's order within a step). */
export function hfLogEntries(m: LoggedMetrics): HfLogEntry[] {
  const out: HfLogEntry[] = [];
  if (m.loss !== undefined) {
    out.push({ loss: m.loss, ...(m.gradNorm !== undefined ? { grad_norm: m.gradNorm } : {}), ...(m.lr !== undefined ? { learning_rate: m.lr } : {}), epoch: m.epoch, step: m.step });
  }
  if (m.evalLoss !== undefined) out.push({ eval_loss: m.evalLoss, epoch: m.epoch, step: m.step });
  return out;
}

/** log_history back as metrics rows (one per step; what HF's entries hold, no time or throughput). */
export function metricsFromLogHistory(h: readonly HfLogEntry[]): LoggedMetrics[] {
  const rows: LoggedMetrics[] = [];
  for (const e of h) {
    const step = e.step;
    if (typeof step !== 'number') continue;
    let row = rows.at(-1);
    if (row?.step !== step) rows.push((row = { step, epoch: e.epoch ?? step }));
    if ('loss' in e) row.loss = e.loss;
    if ('grad_norm' in e) row.gradNorm = e.grad_norm;
    if ('learning_rate' in e) row.lr = e.learning_rate;
    if ('eval_loss' in e) row.evalLoss = e.eval_loss;
  }
  return rows;
}

/** Whether two log histories hold the same entries (key order aside; NaN and null alike, as JSON). */
export function sameLogHistory(a: readonly HfLogEntry[], b: readonly HfLogEntry[]): boolean {
  const key = (e: HfLogEntry) => JSON.stringify(Object.keys(e).sort().map((k) => [k, e[k]]));
  return a.length === b.length && a.every((e, i) => key(e) === key(b[i]!));
}

/**
 * HF's TrainerState.epoch after optimizer step `globalStep` (1-based; 0 before any): the epochs done
 * plus the fraction of the epoch's micro-batches consumed. transformers sets
 * `epoch + (step + 1 + steps_skipped) / steps_in_epoch` at each update, `step` counting micro-batches
 * and steps_in_epoch being len(train_dataloader); an epoch's last update takes the micro-batches
 * left. With 10 micro-batches and gradient accumulation 4: 0.4, 0.8, 1.0, then 1.4, ...
 */
export function hfEpoch(globalStep: number, microPerEpoch: number, gradAccum: number): number {
  if (globalStep <= 0) return 0;
  const stepsPerEpoch = Math.ceil(microPerEpoch / gradAccum);
  const done = Math.floor((globalStep - 1) / stepsPerEpoch);
  const k = (globalStep - 1) % stepsPerEpoch;
  return done + Math.min((k + 1) * gradAccum, microPerEpoch) / microPerEpoch;
}

/** HF's TrainerState fields for a checkpoint at `globalStep` (see HfTrainerStateFields). */
export function hfStateFields(o: {
  globalStep: number; totalSteps: number; stepsPerEpoch: number; batchSize: number; evalEvery: number; saveEvery: number; tokensSeen: number; logHistory: readonly HfLogEntry[];
}): HfTrainerStateFields {
  return {
    global_step: o.globalStep, max_steps: o.totalSteps,
    // HF: max_steps // steps per epoch, plus one for a partial epoch.
    num_train_epochs: Math.ceil(o.totalSteps / o.stepsPerEpoch),
    logging_steps: 1, eval_steps: o.evalEvery, save_steps: o.saveEvery, train_batch_size: o.batchSize,
    num_input_tokens_seen: o.tokensSeen, log_history: [...o.logHistory],
    is_local_process_zero: true, is_world_process_zero: true, is_hyper_param_search: false, trial_name: null, trial_params: null,
  };
}

/** Every Dropout's RNG position, by module path (so a resumed run draws the same masks). */
export function dropoutStates(model: Module): Record<string, DropoutState> {
  const out: Record<string, DropoutState> = {};
  for (const [p, m] of model.namedModules()) if (m instanceof Dropout) out[p] = { baseSeed: m.baseSeed, calls: m.calls };
  return out;
}

export function loadDropoutStates(model: Module, s: Record<string, DropoutState>): void {
  for (const [p, m] of model.namedModules()) {
    const d = s[p];
    if (m instanceof Dropout && d) {
      m.baseSeed = d.baseSeed >>> 0;
      m.calls = d.calls;
    }
  }
}


export interface SaveCheckpointInput {
  model: Module;
  lora: LoraConfig;
  optimizer: AdamWState;
  state: Omit<TrainerState, 'format' | 'optimizer' | 'dropout'>;
}

export async function saveCheckpoint(dir: string, c: SaveCheckpointInput): Promise<void> {
  fs.mkdirSync(path.dirname(path.resolve(dir)), { recursive: true });
  const tmp = path.join(path.dirname(path.resolve(dir)), `.${path.basename(dir)}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    await saveAdapter(c.model, tmp, c.lora); // creates tmp
    const tensors = new Map<string, TensorSource>();
    c.optimizer.params.forEach((p, i) => {
      if (!p) return;
      tensors.set(`state.${i}.exp_avg`, { dtype: 'f32', shape: p.shape, data: p.m });
      tensors.set(`state.${i}.exp_avg_sq`, { dtype: 'f32', shape: p.shape, data: p.v });
    });
    if (tensors.size) writeSafetensors(path.join(tmp, OPTIMIZER_FILE), tensors, { metadata: { format: 'radgrad-adamw' } });
    const o = c.optimizer;
    const st: TrainerState = {
      format: 'radgrad-trainer-1',
      ...c.state,
      optimizer: { stepCount: o.stepCount, lr: o.lr, betas: o.betas, eps: o.eps, steps: o.params.map((p) => p?.step ?? null), names: o.params.map((p) => p?.name ?? null) },
      dropout: dropoutStates(c.model),
    };
    const fd = fs.openSync(path.join(tmp, TRAINER_STATE), 'w');
    try {
      fs.writeSync(fd, JSON.stringify(st, null, 2) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    swapDirInto(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Reads trainer_state.json of a checkpoint directory. */
export function readTrainerState(dir: string): TrainerState {
  const file = path.join(dir, TRAINER_STATE);
  if (!fs.existsSync(file)) throw new FileFormatError(file, 'missing (not a radgrad training checkpoint)', { hint: 'pass a checkpoint-<step> folder from a previous `radgrad train --out` run' });
  let state: TrainerState;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerState;
  } catch (e) {
    throw new FileFormatError(file, `not valid JSON: ${(e as Error).message}`);
  }
  if (state.format !== 'radgrad-trainer-1') throw new FileFormatError(file, `unknown format ${JSON.stringify(state.format)}`);
  return state;
}

/** Reads trainer_state.json and the optimizer tensors of a checkpoint directory. */
export function readCheckpoint(dir: string): { state: TrainerState; optimizer: AdamWState } {
  const state = readTrainerState(dir);
  const o = state.optimizer;
  const optFile = path.join(dir, OPTIMIZER_FILE);
  const tensors = fs.existsSync(optFile) ? readSafetensors(optFile).tensors : new Map();
  const params = o.steps.map((step, i) => {
    if (step === null) return null;
    const m = tensors.get(`state.${i}.exp_avg`);
    const v = tensors.get(`state.${i}.exp_avg_sq`);
    if (!m || !v) throw new RadgradError(`${optFile}: no state for parameter ${i}${o.names[i] ? ` (${o.names[i]})` : ''}`);
    return { ...(o.names[i] ? { name: o.names[i]! } : {}), shape: [...m.shape], step, m: m.data as Float32Array, v: v.data as Float32Array };
  });
  return { state, optimizer: { stepCount: o.stepCount, lr: o.lr, betas: o.betas, eps: o.eps, params } };
}

/** The checkpoint-<step> folders in `outDir`, oldest step first (none when the folder is missing). */
export function listCheckpoints(outDir: string): string[] {
  if (!fs.existsSync(outDir) || !fs.statSync(outDir).isDirectory()) return [];
  return fs.readdirSync(outDir)
    .filter((n) => /^checkpoint-\d+$/.test(n) && fs.statSync(path.join(outDir, n)).isDirectory())
    .sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
}

const real = (p: string) => (fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p));

/**
 * HF save_total_limit (Trainer._rotate_checkpoints): deletes the oldest checkpoint-<step> folders in
 * `outDir` until `limit` remain, never one of `keep` (the checkpoint just written, the one a resumed
 * run started from: those may leave one more than `limit`). Returns the deleted paths.
 */
export function rotateCheckpoints(outDir: string, limit: number, keep: readonly string[]): string[] {
  const kept = new Set(keep.map(real));
  const all = listCheckpoints(outDir).map((n) => path.join(outDir, n));
  const deleted: string[] = [];
  let count = all.length;
  for (const d of all) {
    if (count <= limit) break;
    if (kept.has(real(d))) continue;
    fs.rmSync(d, { recursive: true, force: true });
    deleted.push(d);
    count--;
  }
  return deleted;
}
