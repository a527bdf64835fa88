/**
 * Training checkpoints, one directory each (`checkpoint-<step>/`), written atomically (a temp
 * sibling filled, then swapped in) so an interrupted save never leaves a half checkpoint:
 *   adapter_config.json + adapter_model.safetensors   the LoRA adapter, PEFT format
 *   optimizer.safetensors                             AdamW exp_avg / exp_avg_sq per parameter
 *   trainer_state.json                                step, epoch, scheduler, loss scale, dropout
 *                                                     RNG counters, AdamW scalars, settings
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

export interface TrainerState {
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
   * checkpoint had an eval loss. Recorded with loadBestModelAtEnd only.
   */
  best_metric?: number | null;
  best_model_checkpoint?: string | null;
  best_global_step?: number | null;
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
