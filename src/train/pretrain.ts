/**
 * The training loop of `radgrad pretrain`: every weight of a fresh BioGPT-architecture model trained
 * on whole texts (causal-LM loss on every real token), with the Trainer's conventions: AdamW without
 * weight decay on biases and LayerNorm weights (param_groups.ts), HF's linear schedule with warmup
 * (schedule.ts: lr 0 at step 0, step/warmup while warming up), gradients clipped to maxGradNorm, and a
 * step with a non-finite gradient norm skipped (weights, optimizer and schedule unchanged), stopping with
 * NonFiniteGradientError after maxConsecutiveSkips of them in a row, as a float32 Trainer run does.
 */
import '../ops/index.js';
import { backward } from '../autograd/tape.js';
import { tidy } from '../tensor/scope.js';
import { clipCoefficient, globalGradNorm } from '../ops/optim.js';
import type { BioGptForCausalLM } from '../models/biogpt/model.js';
import { collate, tokenCount } from '../data/collator.js';
import { permutation } from '../data/rng.js';
import type { Example } from '../data/dataset.js';
import { adamWWithNoDecay } from './param_groups.js';
import { scheduledLr } from './schedule.js';
import { MAX_CONSECUTIVE_SKIPS_F32, NonFiniteGradientError } from './trainer.js';

export interface PretrainOptions {
  steps: number;
  batchSize: number;
  maxLength: number;
  /** Peak learning rate (linear warmup over warmupSteps, then linear decay to 0 at `steps`). */
  lr: number;
  warmupSteps: number;
  /** AdamW weight decay, on every parameter but biases and LayerNorm weights. */
  weightDecay: number;
  /** Data order. */
  seed: number;
  /** Gradient clipping (default 1.0). */
  maxGradNorm?: number;
  padId?: number;
  /** Stop after this many non-finite steps in a row (default MAX_CONSECUTIVE_SKIPS_F32, 25). */
  maxConsecutiveSkips?: number;
  /** Called after every step (skipped ones too). */
  onStep?: (s: PretrainStep) => void;
}

export interface PretrainStep {
  /** 1-based. */
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** The gradient norm was non-finite: no update. */
  skipped: boolean;
  /** Real tokens in the step's batch. */
  tokens: number;
}

/** Trains every weight of `model` (in train mode) on `examples` for `o.steps` steps. */
export async function pretrainLoop(model: BioGptForCausalLM, examples: readonly Example[], o: PretrainOptions): Promise<{ skipped: number }> {
  const params = model.namedParameters();
  const opt = adamWWithNoDecay(params, { lr: o.lr, weightDecay: o.weightDecay });
  const tensors = opt.params;
  const maxSkips = o.maxConsecutiveSkips ?? MAX_CONSECUTIVE_SKIPS_F32;
  let order = permutation(examples.length, o.seed, 0);
  let cursor = 0;
  let epoch = 0;
  let skipped = 0;
  let inARow = 0;
  // The scheduler's position: applied updates only. A skipped step leaves it where it was, as the
  // Trainer (optimizerSteps) and HF (no lr_scheduler.step() when optimizer_step_was_skipped) do.
  let applied = 0;
  try {
    for (let step = 0; step < o.steps; step++) {
      const batch = [];
      for (let i = 0; i < o.batchSize; i++) {
        if (cursor === order.length) {
          order = permutation(examples.length, o.seed, ++epoch);
          cursor = 0;
        }
        batch.push(examples[order[cursor++]!]!);
      }
      const b = collate(batch, { padId: o.padId ?? 1, maxLength: o.maxLength, padding: 'longest', padToMultipleOf: 8 });
      const labels = Int32Array.from(b.inputIds, (v, i) => (b.attentionMask[i] ? v : -100));
      const shape = [b.batchSize, b.seqLen] as [number, number];
      const loss = tidy(() => {
        const l = model.forward({ inputIds: { data: b.inputIds, shape }, attentionMask: { data: b.attentionMask, shape }, labels: { data: labels, shape } }).loss!;
        backward(l);
        return l;
      });
      const lv = await loss.item();
      loss.dispose();
      const gradNorm = await globalGradNorm(tensors);
      const lr = scheduledLr(o.lr, applied, { kind: 'linear', warmupSteps: o.warmupSteps, totalSteps: o.steps });
      const ok = Number.isFinite(gradNorm);
      // Clipping folded into the update (torch's clip_grad_norm_ coefficient), as the Trainer does.
      if (ok) opt.step({ lr, gradScale: (o.maxGradNorm ?? 1.0) > 0 ? clipCoefficient(gradNorm, o.maxGradNorm ?? 1.0) : 1 });
      opt.zeroGrad();
      o.onStep?.({ step: step + 1, loss: lv, lr, gradNorm, skipped: !ok, tokens: tokenCount(b) });
      if (ok) {
        inARow = 0;
        applied++;
      } else {
        skipped++;
        if (++inARow >= maxSkips) throw new NonFiniteGradientError(step + 1, inARow, undefined, undefined, 'model');
      }
    }
  } finally {
    opt.dispose();
  }
  return { skipped };
}
