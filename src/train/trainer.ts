/**
 * LoRA fine-tuning loop, as transformers' Trainer + PEFT with the seed's defaults: LoRA r 8 / alpha
 * 16 / dropout 0.1 on q_proj+v_proj, micro-batch 4 × gradient accumulation 4, 2 epochs, AdamW
 * (lr 2e-4, β 0.9/0.999, eps 1e-8, weight decay 0), linear schedule, clip 1.0, max length 512.
 *
 * One optimizer step = `gradAccum` micro-batches. The step's loss is the token mean over all of
 * them: each micro-batch's mean loss is weighted by its share of the step's target tokens before
 * backward, so gradients equal one big batch's (unlike averaging per-micro-batch means).
 *
 * fp16 (on by default, where the adapter has shader-f16): mixed precision as torch.autocast(float16)
 * + GradScaler. Forward passes run under autocast('f16') (matmuls in f16, softmax / layer norm /
 * cross-entropy in f32, f32 master weights), backward outside it with the loss multiplied by the
 * dynamic scale; a non-finite gradient norm (a real f16 overflow) skips the step and halves it.
 *
 * Determinism/resume: the data order depends only on (seed, epoch), dropout masks on each Dropout's
 * (baseSeed, calls) which checkpoints save, so a resumed run continues the same loss curve.
 */
import type { Tensor } from '../tensor/tensor.js';
import fs from 'node:fs';
import path from 'node:path';
import '../ops/index.js'; // registers the autograd helpers backward() needs
import { backward, noGrad } from '../autograd/tape.js';
import { autocast } from '../autograd/autocast.js';
import { tidy } from '../tensor/scope.js';
import { mul } from '../ops/elementwise.js';
import { type AdamW, clipCoefficient, globalGradNorm } from '../ops/optim.js';
import { adamWWithNoDecay } from './param_groups.js';
import type { BioGptForCausalLM } from '../models/biogpt/model.js';
import { checkAttnImplementation } from '../models/biogpt/config.js';
import { setAttnImplementation } from '../models/biogpt/attention.js';
import { applyLora, loadAdapter, loraConfigOf, saveAdapter, trainableParametersLine, type LoraConfig } from '../nn/lora.js';
import { collate, tokenCount, type Batch } from '../data/collator.js';
import { writeTextAtomic } from '../util/atomic.js';
import { permutation } from '../data/rng.js';
import type { Example } from '../data/dataset.js';
import { writeTrainingReport, type TrainingMetricPoint } from './report.js';
import { LossScaler, type LossScalerOptions } from './loss_scale.js';
import { scheduledLr, warmupStepsFor } from './schedule.js';
import { ResumeMismatchError, TrainerError, formatDifferences, resolveTrainSettings, resumeDifferences, type TrainSettings } from './settings.js';
import { Progress } from './progress.js';
import {
  hfEpoch, hfLogEntries, hfStateFields, listCheckpoints, loadDropoutStates, metricsFromLogHistory, readCheckpoint, readTrainerState, rotateCheckpoints, sameLogHistory, saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import { BestModelTracker, type BestModel } from './best_model.js';

export { DEFAULT_TRAIN_SETTINGS, ResumeMismatchError, TrainerError, TrainSettingsError, type TrainSettings } from './settings.js';

export interface MetricRecord extends TrainingMetricPoint {
  step: number;
  epoch: number;
  /** Seconds since the run started; absent in rows rebuilt from a checkpoint's log_history. */
  time?: number;
  /** PRECISION_MIXED or PRECISION_F32. */
  precision?: string;
  /** The gradient norm was non-finite: no update (weights, optimizer and scheduler unchanged). */
  skipped?: boolean;
}

/** Float32 runs stop after this many steps in a row with a non-finite gradient norm (TrainerOptions.maxConsecutiveSkips). */
export const MAX_CONSECUTIVE_SKIPS_F32 = 25;
/** fp16 runs stop when the loss scale falls below this (2^-24, the smallest f16 subnormal): the gradients are not finite even unscaled. */
export const MIN_LOSS_SCALE = 2 ** -24;

/** Training stopped: the gradients stayed non-finite (NaN/inf) step after step. */
export class NonFiniteGradientError extends TrainerError {
  constructor(
    readonly step: number,
    readonly skippedInARow: number,
    /** The loss scale reached (fp16), undefined in float32. */
    readonly lossScale: number | undefined,
    readonly lastCheckpoint: string | undefined,
    /** What the failed run did not write ('adapter' for the Trainer, 'model' for `radgrad pretrain`). */
    output = 'adapter',
  ) {
    const why = lossScale === undefined
      ? `the gradient norm was non-finite (NaN/inf) in float32 for ${skippedInARow} steps in a row`
      : `the loss scale fell to ${lossScale} (below 2^-24) after ${skippedInARow} skipped steps in a row: the gradients are NaN/inf even unscaled, not an f16 overflow`;
    super(`training stopped at step ${step}: ${why}. Skipped steps change nothing, so the weights are those of step ${step - skippedInARow}; no ${output} was written${lastCheckpoint ? `; the last checkpoint is ${lastCheckpoint}` : ''}`, {
      hint: lossScale === undefined
        ? 'a lower --lr or a --warmup-steps/--warmup-ratio warmup, or check the base weights and data for NaN/inf (a NaN that never goes away comes from the weights or inputs)'
        : 'try --no-fp16 to see whether float32 trains, a lower --lr, or check the base weights and data for NaN/inf',
    });
  }
}

export interface TrainerOptions {
  /** A loaded BioGptForCausalLM (frozen or not: LoRA freezes it). */
  model: BioGptForCausalLM;
  train: readonly Example[];
  eval?: readonly Example[];
  outDir: string;
  settings?: Partial<TrainSettings>;
  /** Checkpoint directory to continue from. */
  resume?: string;
  /**
   * On resume, continue although settings that matter differ from the checkpoint's (each
   * difference is logged); otherwise such a resume stops with a ResumeMismatchError.
   */
  allowSettingChanges?: boolean;
  /**
   * How the data was chosen, saved in checkpoints and compared on resume (the CLI: evalData,
   * evalFraction). The example counts are always recorded.
   */
  dataSettings?: Record<string, unknown>;
  /** The device supports shader-f16 (enables mixed precision when settings.fp16). */
  f16Available?: boolean;
  /** GradScaler settings (init scale 65536, ×0.5 / ×2 after 2000 good steps by default). */
  lossScaler?: Omit<LossScalerOptions, 'enabled'>;
  /** Stop at the next step boundary, saving a checkpoint (Ctrl-C). */
  signal?: AbortSignal;
  progress?: Progress | null;
  /** Float32: stop with NonFiniteGradientError after this many non-finite steps in a row (default 25). fp16 stops when the loss scale falls below 2^-24. */
  maxConsecutiveSkips?: number;
  /** Called with every metrics record (also appended to metrics.jsonl). */
  onMetrics?: (m: MetricRecord) => void;
  /** Extra settings shown in report.html (model dir, data files...). */
  reportSettings?: Record<string, unknown>;
  /** Write report.html at the end (default true). */
  report?: boolean;
}

export interface TrainResult {
  steps: number;
  totalSteps: number;
  interrupted: boolean;
  finalLoss?: number;
  finalEvalLoss?: number;
  tokensPerSec: number;
  adapterDir: string;
  lastCheckpoint?: string;
  metrics: MetricRecord[];
  trainableLine: string;
  /** Whether the loss scaler ran (fp16 requested and available). */
  lossScaling: boolean;
  /** PRECISION_MIXED or PRECISION_F32. */
  precision: string;
  /**
   * loadBestModelAtEnd: the checkpoint with the lowest eval loss (adapterDir holds its adapter when
   * the run finished); undefined when the setting is off or no checkpoint had an eval loss.
   */
  best?: BestModel;
}

/** How a mixed-precision run describes itself (console, metrics, report). */
export const PRECISION_MIXED = 'fp16 mixed (autocast + dynamic loss scaling)';
export const PRECISION_F32 = 'float32';

const ids = (b: Batch) => ({ data: b.inputIds, shape: [b.batchSize, b.seqLen] as [number, number] });

/**
 * Refuses, before step 1, a run whose batches would hold a sequence longer than the model's
 * positions (it would stop at the first such batch, possibly hours in): examples are cut to
 * maxLength, so this happens only when maxLength > max_position_embeddings.
 */
function checkPositions(maxPositions: number, maxLength: number, train: readonly Example[], evalSet: readonly Example[]): void {
  if (maxLength <= maxPositions) return;
  const long = (xs: readonly Example[]) => xs.filter((e) => Math.min(e.inputIds.length, maxLength) > maxPositions).length;
  const [t, e] = [long(train), long(evalSet)];
  if (!t && !e) return;
  throw new TrainerError(`maxLength ${maxLength} exceeds the model's ${maxPositions} positions (max_position_embeddings), and ${t} training / ${e} eval examples are longer than ${maxPositions} tokens`, {
    hint: `set maxLength (train --max-length) to at most ${maxPositions}; \`radgrad train\` lowers it to the model's positions by itself`,
  });
}

export class Trainer {
  readonly s: TrainSettings;
  readonly model: BioGptForCausalLM;
  readonly lora: LoraConfig;
  readonly optimizer: AdamW;
  readonly scaler: LossScaler;
  /** fp16 mixed precision (autocast forward + loss scaling) is on. */
  readonly mixed: boolean;
  readonly stepsPerEpoch: number;
  /** Micro-batches per epoch (HF's len(train_dataloader)): the unit of HF's fractional epoch. */
  readonly microPerEpoch: number;
  readonly totalSteps: number;
  /** Warmup length used: warmupSteps, else ceil(totalSteps · warmupRatio) (HF get_warmup_steps). */
  readonly warmupSteps: number;
  private readonly o: TrainerOptions;
  private globalStep = 0;
  private optimizerSteps = 0;
  private tokensSeen = 0;
  private elapsedBefore = 0;
  /** Every logged row; a checkpoint's trainer_state.json holds them as HF's log_history. */
  private readonly metrics: MetricRecord[] = [];
  private readonly metricsFile: string;
  /** What the run trains and evaluates on (saved in checkpoints, compared on resume). */
  private readonly data: Record<string, unknown>;
  /** Logged when the run starts (setting changes accepted on resume). */
  private readonly resumeNotes: string[] = [];
  private progress: Progress | null = null;
  /** loadBestModelAtEnd: the checkpoint with the lowest eval loss so far. */
  private readonly best = new BestModelTracker();

  constructor(o: TrainerOptions) {
    this.o = o;
    const s = (this.s = resolveTrainSettings(o.settings));
    this.data = { trainExamples: o.train.length, evalExamples: o.eval?.length ?? 0, ...(o.dataSettings ?? {}) };
    if (!o.train.length) throw new TrainerError('the training set is empty', { hint: 'check --data (prompt/completion JSONL) and --max-length' });
    this.model = o.model;
    checkPositions(o.model.config.maxPositionEmbeddings, s.maxLength, o.train, o.eval ?? []);
    if (s.loadBestModelAtEnd && !o.eval?.length) {
      throw new TrainerError('loadBestModelAtEnd picks the checkpoint with the lowest eval loss, but there is no eval set', { hint: 'pass eval examples (train --eval-data, or --eval-fraction > 0), or drop loadBestModelAtEnd (--load-best-model-at-end)' });
    }
    this.lora = {
      r: s.loraR, alpha: s.loraAlpha, dropout: s.loraDropout, targetModules: s.targetModules, bias: 'none', useRslora: s.useRslora,
      baseModelNameOrPath: s.baseModelNameOrPath !== undefined ? s.baseModelNameOrPath : ((o.reportSettings?.model as string | undefined) ?? null),
    };
    if (o.resume) {
      const state = readTrainerState(o.resume);
      const diff = resumeDifferences(state.settings, s, state.data, this.data);
      if (diff.length && !o.allowSettingChanges) throw new ResumeMismatchError(o.resume, diff);
      if (diff.length) {
        const lora = diff.some((d) => d.name.startsWith('lora') && d.name !== 'loraDropout') || diff.some((d) => d.name === 'targetModules');
        this.resumeNotes.push(`--allow-setting-changes: continuing ${o.resume} with changed settings:\n${formatDifferences(diff)}${lora ? "\n  (the LoRA layout stays the checkpoint adapter's)" : ''}`);
      }
      // The checkpoint's adapter defines the LoRA layout; its dropout is the run's.
      loadAdapter(this.model, o.resume, { seed: s.seed, dropout: s.loraDropout });
      this.lora = { ...loraConfigOf(this.model)!, dropout: s.loraDropout, ...(s.baseModelNameOrPath !== undefined ? { baseModelNameOrPath: s.baseModelNameOrPath } : {}) };
    } else {
      applyLora(this.model, this.lora, s.seed);
      // "all-linear" is saved as the module paths it stood for (as PEFT writes target_modules).
      this.lora = { ...this.lora, targetModules: loraConfigOf(this.model)!.targetModules };
    }
    this.model.train(true);
    this.model.gradientCheckpointingEnable(s.gradientCheckpointing);
    if (s.attnImplementation !== undefined) setAttnImplementation(this.model, checkAttnImplementation(s.attnImplementation, 'settings.attnImplementation'));
    // No decay on biases and norms (HF's get_decay_parameter_names); LoRA matrices are neither.
    this.optimizer = adamWWithNoDecay(this.model.namedParameters().filter(([, t]) => t.requiresGrad), { lr: s.lr, betas: s.betas, eps: s.eps, weightDecay: s.weightDecay });
    this.mixed = s.fp16 && !!o.f16Available;
    this.scaler = new LossScaler({ ...(o.lossScaler ?? {}), enabled: this.mixed });
    this.microPerEpoch = Math.ceil(o.train.length / s.batchSize);
    this.stepsPerEpoch = Math.ceil(this.microPerEpoch / s.gradAccum);
    this.totalSteps = s.maxSteps > 0 ? s.maxSteps : this.stepsPerEpoch * s.epochs;
    this.warmupSteps = warmupStepsFor(this.totalSteps, s.warmupSteps, s.warmupRatio);
    fs.mkdirSync(o.outDir, { recursive: true });
    this.metricsFile = path.join(o.outDir, 'metrics.jsonl');
  }

  /** Restores optimizer, scheduler, scaler, dropout RNG and metrics from the resume checkpoint. */
  private restore(dir: string): void {
    const { state, optimizer } = readCheckpoint(dir);
    if (state.stepsPerEpoch !== this.stepsPerEpoch) {
      throw new TrainerError(`${dir}: checkpoint has ${state.stepsPerEpoch} steps per epoch, this run ${this.stepsPerEpoch}`, { hint: 'resume with the same data, --batch-size and --grad-accum' });
    }
    this.optimizer.loadState(optimizer);
    this.scaler.loadState(state.lossScaler);
    loadDropoutStates(this.model, state.dropout);
    this.globalStep = state.globalStep;
    this.optimizerSteps = state.optimizerSteps;
    this.tokensSeen = state.tokensSeen;
    this.elapsedBefore = state.elapsed;
    if (this.s.loadBestModelAtEnd) {
      const note = this.best.restore(state, this.o.outDir);
      if (note) this.resumeNotes.push(note);
    }
    // Keep the metrics history up to the checkpoint (a crash may have logged steps after it), in
    // memory and in the file: the rows after the checkpoint are undone, so they go from both.
    let rows: MetricRecord[] = [];
    if (fs.existsSync(this.metricsFile)) {
      for (const line of fs.readFileSync(this.metricsFile, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const m = JSON.parse(line) as MetricRecord;
          if (m.step <= this.globalStep) rows.push(m);
        } catch {
          /* a torn last line from a crash */
        }
      }
    }
    // The checkpoint's log_history is the run's record up to its step. metrics.jsonl may not hold it:
    // missing (--out is another folder), or rewritten by a later fresh run into the same --out. Its
    // rows are then rebuilt from log_history. Older checkpoints have no log_history: the file's rows.
    const saved = state.log_history?.filter((e) => typeof e.step === 'number' && e.step <= this.globalStep);
    if (saved && !sameLogHistory(rows.flatMap(hfLogEntries), saved)) {
      this.resumeNotes.push(`note: ${this.metricsFile} does not hold the log_history of ${dir} (missing, or written by another run); its rows up to step ${this.globalStep} are rebuilt from that log_history (loss, eval loss, lr, grad norm; no time or tokens/s)`);
      rows = metricsFromLogHistory(saved) as MetricRecord[];
    }
    this.metrics.push(...rows);
    writeTextAtomic(this.metricsFile, this.metrics.map((m) => JSON.stringify(m) + '\n').join(''));
  }

  /** A fresh run starts a fresh metrics.jsonl (an earlier run's rows in --out are dropped, atomically). */
  private startFresh(progress: Progress | null): void {
    writeTextAtomic(this.metricsFile, '');
    const stale = listCheckpoints(this.o.outDir);
    if (stale.length) progress?.log(`note: ${this.o.outDir} holds ${stale.join(', ')} from an earlier run; this run's checkpoints replace those of the same step only`);
  }

  /** Runs a forward pass under autocast('f16') in mixed precision, as is otherwise. */
  private fwd<T>(fn: () => T): T {
    return this.mixed ? autocast('f16', fn) : fn();
  }

  /** HF's epoch after the steps done (micro-batches consumed / per epoch; the same in metrics.jsonl, log_history and trainer_state.json). */
  private get epoch(): number {
    return hfEpoch(this.globalStep, this.microPerEpoch, this.s.gradAccum);
  }

  get precision(): string {
    return this.mixed ? PRECISION_MIXED : PRECISION_F32;
  }

  /** Micro-batches of optimizer step `g` (0-based, global). */
  private microBatches(g: number): Batch[] {
    const s = this.s;
    const epoch = Math.floor(g / this.stepsPerEpoch);
    const k = g % this.stepsPerEpoch;
    const order = permutation(this.o.train.length, s.seed, epoch);
    const out: Batch[] = [];
    for (let m = k * s.gradAccum; m < (k + 1) * s.gradAccum; m++) {
      const idx = order.slice(m * s.batchSize, (m + 1) * s.batchSize);
      if (!idx.length) break;
      out.push(collate(idx.map((i) => this.o.train[i]!), { padId: s.padId, maxLength: s.maxLength, padding: 'longest', padToMultipleOf: 8 }));
    }
    return out;
  }

  /** Token-mean loss over `examples` (no gradients, eval mode). */
  async evaluate(examples: readonly Example[] = this.o.eval ?? []): Promise<number | undefined> {
    if (!examples.length) return undefined;
    const s = this.s;
    this.model.eval();
    let sum = 0;
    let n = 0;
    try {
      for (let i = 0; i < examples.length; i += s.batchSize) {
        const b = collate(examples.slice(i, i + s.batchSize), { padId: s.padId, maxLength: s.maxLength, padding: 'longest', padToMultipleOf: 8 });
        if (!b.numTargetTokens) continue;
        const loss = noGrad(() => tidy(() => this.fwd(() => this.model.forwardLoss({ inputIds: ids(b), attentionMask: ids({ ...b, inputIds: b.attentionMask }), labels: ids({ ...b, inputIds: b.labels }) }))));
        sum += (await loss.item()) * b.numTargetTokens;
        n += b.numTargetTokens;
        loss.dispose();
      }
    } finally {
      this.model.train(true);
    }
    return n ? sum / n : undefined;
  }

  private record(m: MetricRecord): void {
    this.metrics.push(m);
    fs.appendFileSync(this.metricsFile, JSON.stringify(m) + '\n');
    this.o.onMetrics?.(m);
  }

  private async checkpoint(t0: number): Promise<string> {
    const dir = path.join(this.o.outDir, `checkpoint-${this.globalStep}`);
    if (this.s.loadBestModelAtEnd) {
      // This step's eval loss, when it evaluated (every save step does: saveEvery is a multiple of evalEvery).
      const m = this.metrics.at(-1);
      this.best.consider(this.globalStep, m?.step === this.globalStep ? m.evalLoss : undefined, dir);
    }
    const state: Omit<TrainerState, 'format' | 'optimizer' | 'dropout'> = {
      globalStep: this.globalStep, optimizerSteps: this.optimizerSteps, epoch: this.epoch,
      totalSteps: this.totalSteps, stepsPerEpoch: this.stepsPerEpoch, seed: this.s.seed, tokensSeen: this.tokensSeen,
      elapsed: this.elapsedBefore + (Date.now() - t0) / 1000, lossScaler: this.scaler.state(), settings: { ...this.s }, data: this.data,
      ...hfStateFields({
        globalStep: this.globalStep, totalSteps: this.totalSteps, stepsPerEpoch: this.stepsPerEpoch, batchSize: this.s.batchSize,
        evalEvery: this.s.evalEvery, saveEvery: this.s.saveEvery, tokensSeen: this.tokensSeen, logHistory: this.metrics.flatMap(hfLogEntries),
      }),
      // Nulls without loadBestModelAtEnd (the tracker then never has a best), as HF without metric_for_best_model.
      ...this.best.stateFields(),
    };
    await saveCheckpoint(dir, { model: this.model, lora: this.lora, optimizer: await this.optimizer.state(), state });
    if (this.s.saveTotalLimit > 0) {
      // Never the one just written, the one resumed from, nor the best (HF keeps best_model_checkpoint too).
      const keep = [dir, ...(this.o.resume ? [this.o.resume] : []), ...(this.best.best ? [this.best.best.checkpoint] : [])];
      for (const d of rotateCheckpoints(this.o.outDir, this.s.saveTotalLimit, keep)) {
        this.progress?.log(`deleted ${d} (--save-total-limit ${this.s.saveTotalLimit})`);
      }
    }
    return dir;
  }

  /** One optimizer step over its micro-batches; returns the step's token-mean loss and stats. */
  private async step(g: number): Promise<{ loss: number; gradNorm: number; tokens: number; applied: boolean; lr: number }> {
    const s = this.s;
    const batches = this.microBatches(g);
    const N = batches.reduce((a, b) => a + b.numTargetTokens, 0);
    const scale = this.scaler.scale;
    let tokens = 0;
    // Losses are read back after every micro-batch has been queued, so the GPU never waits for
    // the host between micro-batches (one sync per optimizer step, not one per micro-batch).
    const losses: Array<{ loss: Tensor; w: number }> = [];
    for (const b of batches) {
      tokens += tokenCount(b);
      if (!b.numTargetTokens) continue;
      const w = b.numTargetTokens / N;
      const loss = tidy(() => {
        // Forward under autocast, backward outside it (as torch): f16 activations get f16 gradients.
        // forwardLoss: the loss without the [tokens, V] logits, whose storage takes their gradient.
        const l = this.fwd(() => this.model.forwardLoss({ inputIds: ids(b), attentionMask: ids({ ...b, inputIds: b.attentionMask }), labels: ids({ ...b, inputIds: b.labels }) }));
        backward(mul(l, w * scale));
        return l;
      });
      losses.push({ loss, w });
    }
    let lossSum = 0;
    for (const { loss, w } of losses) {
      lossSum += (await loss.item()) * w;
      loss.dispose();
    }
    const params = this.optimizer.params;
    const scaledNorm = await globalGradNorm(params);
    const lr = scheduledLr(s.lr, this.optimizerSteps, { kind: s.schedule, warmupSteps: this.warmupSteps, totalSteps: this.totalSteps });
    const applied = this.scaler.update(scaledNorm);
    const gradNorm = scaledNorm / scale;
    if (applied) {
      // Unscale and clip in the update itself (one pass over the gradients).
      const clip = s.maxGradNorm > 0 ? clipCoefficient(gradNorm, s.maxGradNorm) : 1;
      this.optimizer.step({ lr, gradScale: clip / scale });
      this.optimizerSteps++;
    }
    this.optimizer.zeroGrad();
    return { loss: lossSum, gradNorm, tokens, applied, lr };
  }

  async run(): Promise<TrainResult> {
    const o = this.o;
    const s = this.s;
    const progress = (this.progress = o.progress === undefined ? new Progress(this.totalSteps, { every: s.logEvery }) : o.progress);
    if (o.resume) this.restore(o.resume);
    else this.startFresh(progress);
    for (const n of this.resumeNotes) progress?.log(n);
    const line = trainableParametersLine(this.model);
    progress?.log(line);
    if (s.fp16 && !this.mixed) progress?.log('fp16: shader-f16 not available on this adapter; training in float32');
    else if (this.mixed) progress?.log(`precision: ${PRECISION_MIXED}, loss scale ${this.scaler.scale}; master weights, layer norm, softmax and loss in float32`);
    const t0 = Date.now();
    let lastCheckpoint: string | undefined;
    let interrupted = false;
    let last: MetricRecord | undefined;
    let lastEval: number | undefined;
    let runTokens = 0;
    let skippedInARow = 0;
    if (s.evalOnStart && this.globalStep === 0 && (o.eval?.length ?? 0) > 0) {
      const evalLoss = await this.evaluate();
      if (evalLoss !== undefined) {
        this.record({ step: 0, epoch: 0, evalLoss, time: 0, precision: this.precision });
        progress?.log(`step 0  eval ${evalLoss.toFixed(4)} (before training)`);
      }
    }
    const tRun = Date.now();
    while (this.globalStep < this.totalSteps) {
      if (o.signal?.aborted) {
        interrupted = true;
        break;
      }
      const ts = Date.now();
      const r = await this.step(this.globalStep);
      this.globalStep++;
      this.tokensSeen += r.tokens;
      runTokens += r.tokens;
      const dt = (Date.now() - ts) / 1000;
      const m: MetricRecord = {
        step: this.globalStep, epoch: this.epoch, loss: r.loss, lr: r.lr,
        tokensPerSec: r.tokens / Math.max(dt, 1e-9), lossScale: this.scaler.enabled ? this.scaler.scale : 1,
        gradNorm: r.gradNorm, time: this.elapsedBefore + (Date.now() - t0) / 1000, precision: this.precision,
      };
      if (!r.applied) {
        m.skipped = true;
        skippedInARow++;
        progress?.log(this.mixed
          ? `step ${this.globalStep}: non-finite gradient norm (f16 overflow or NaN), step skipped, loss scale now ${this.scaler.scale}`
          : `step ${this.globalStep}: non-finite gradient norm (NaN/inf) in float32, step skipped (weights unchanged)`);
        // A NaN/inf that does not go away: stop before the scale reaches 0 (fp16) or skipping for ever (f32).
        if (this.mixed ? this.scaler.scale < MIN_LOSS_SCALE : skippedInARow >= (o.maxConsecutiveSkips ?? MAX_CONSECUTIVE_SKIPS_F32)) {
          this.record(m);
          progress?.finish();
          throw new NonFiniteGradientError(this.globalStep, skippedInARow, this.mixed ? this.scaler.scale : undefined, lastCheckpoint ?? o.resume);
        }
      } else skippedInARow = 0;
      if ((s.evalEvery > 0 && this.globalStep % s.evalEvery === 0) || this.globalStep === this.totalSteps) {
        lastEval = await this.evaluate();
        if (lastEval !== undefined) m.evalLoss = lastEval;
      }
      this.record(m);
      last = m;
      progress?.update(this.globalStep, { loss: r.loss, lr: r.lr, tokensPerSec: m.tokensPerSec!, ...(m.evalLoss !== undefined ? { evalLoss: m.evalLoss } : {}) });
      if (s.saveEvery > 0 && this.globalStep % s.saveEvery === 0 && this.globalStep < this.totalSteps) lastCheckpoint = await this.checkpoint(t0);
    }
    progress?.finish();
    if (interrupted || this.globalStep === this.totalSteps) {
      if (!lastCheckpoint?.endsWith(`checkpoint-${this.globalStep}`) && this.globalStep > 0) lastCheckpoint = await this.checkpoint(t0);
    }
    if (interrupted) progress?.log(`interrupted: saved ${lastCheckpoint ?? 'nothing (no step done)'}; continue with --resume ${lastCheckpoint ?? '<checkpoint>'}`);
    const adapterDir = path.join(o.outDir, 'adapter');
    const best = this.best.best;
    if (!interrupted) {
      if (s.loadBestModelAtEnd && best) {
        // HF load_best_model_at_end: the best checkpoint's weights go back into the model, and adapter/ is them.
        progress?.log(`loading the best checkpoint ${best.checkpoint} (step ${best.step}, eval loss ${best.metric.toFixed(4)}) into adapter/ (load_best_model_at_end)`);
        loadAdapter(this.model, best.checkpoint, { dropout: s.loraDropout });
      } else if (s.loadBestModelAtEnd) {
        progress?.log('load_best_model_at_end: no checkpoint had an eval loss; adapter/ is the last step');
      }
      await saveAdapter(this.model, adapterDir, this.lora);
    }
    const tokensPerSec = runTokens / Math.max((Date.now() - tRun) / 1000, 1e-9);
    if (o.report ?? true) {
      await writeTrainingReport(path.join(o.outDir, 'report.html'), {
        title: `radgrad LoRA fine-tune${interrupted ? ' (interrupted)' : ''}`,
        settings: {
          ...(o.reportSettings ?? {}), ...this.s, trainable: line, steps: `${this.globalStep}/${this.totalSteps}`, lossScaling: this.scaler.enabled, compute: this.precision,
          ...(best ? { bestCheckpoint: `${best.checkpoint} (step ${best.step}, eval loss ${best.metric.toFixed(4)})${interrupted ? '' : '; adapter/ holds it'}` } : {}),
        },
        metrics: this.metrics,
      });
    }
    return {
      steps: this.globalStep, totalSteps: this.totalSteps, interrupted,
      ...(last?.loss !== undefined ? { finalLoss: last.loss } : {}),
      ...(lastEval !== undefined ? { finalEvalLoss: lastEval } : {}),
      tokensPerSec, adapterDir, ...(lastCheckpoint ? { lastCheckpoint } : {}), metrics: this.metrics, trainableLine: line, lossScaling: this.scaler.enabled, precision: this.precision,
      ...(best ? { best: { ...best } } : {}),
    };
  }
}

/** Builds a Trainer and runs it. */
export async function train(o: TrainerOptions): Promise<TrainResult> {
  return new Trainer(o).run();
}
