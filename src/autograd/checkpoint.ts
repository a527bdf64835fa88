/**
 * Activation checkpointing (torch.utils.checkpoint, transformers' gradient_checkpointing_enable()):
 * checkpoint(fn, inputs) runs fn without recording a graph, so none of its intermediates stay
 * alive, and keeps only its inputs. When backward() reaches the output, fn runs again with
 * recording on — from detached copies of the inputs — and the upstream gradient is backpropagated
 * through that fresh graph: parameters fn uses accumulate into `.grad` as in a plain run, and the
 * gradients reaching the input copies are handed on to the outer graph. Peak memory during a
 * training step drops from "every layer's intermediates" to "layer outputs + one layer's
 * intermediates", at the cost of a second forward of each checkpointed block.
 *
 * The recompute must see what the first forward saw:
 *  - Randomness: Dropout masks come from each module's (baseSeed, call counter). The counters of
 *    `opts.rng` are saved before the first forward, rewound for the recompute (same masks) and then
 *    put back where the first forward left them, so the run's counters — which trainer checkpoints
 *    store for --resume — advance exactly as without checkpointing.
 *  - Autocast: the dtype active at the first forward is re-entered for the recompute (backward runs
 *    outside autocast scopes).
 * Everything else fn reads (parameters, captured tensors such as an attention mask) must not change
 * between forward and backward, as with torch.
 */
import { AutogradError, backward, enableGrad, isGradEnabled, noGrad, saveVersions } from './tape.js';
import { noteRecorded } from './release.js';
import { autocast, autocastDtype } from './autocast.js';
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';

/** A random stream whose draws depend only on a call counter (Dropout, LayerDrop). */
export interface CounterRng {
  calls: number;
}

export interface CheckpointOptions {
  /**
   * Parameters fn uses. Needed when no input requires grad (a frozen embedding below the first
   * LoRA layer) so that the output still records a node and the parameters get gradients; torch's
   * reentrant checkpoint has no such argument, which is why PEFT turns on input gradients.
   */
  params?: Iterable<Tensor>;
  /** Counter-based random streams fn draws from, rewound for the recompute (see above). */
  rng?: readonly CounterRng[];
}

/**
 * Runs fn(...inputs) → Tensor without keeping its intermediates; backward recomputes them.
 * Outside grad mode (or when nothing requires grad) it is just fn under tidy().
 */
export function checkpoint(fn: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], opts: CheckpointOptions = {}): Tensor {
  const params = opts.params ? [...opts.params].filter((p) => p.requiresGrad) : [];
  const needsGrad = isGradEnabled() && (inputs.some((t) => t.requiresGrad) || params.length > 0);
  if (!needsGrad) return tidy(() => fn(...inputs));
  const rng = opts.rng ?? [];
  const before = rng.map((r) => r.calls);
  const dtype = autocastDtype();
  // tidy() frees the intermediates at once: that is the memory saving.
  const out = noGrad(() => tidy(() => fn(...inputs)));
  if (!(out instanceof Tensor)) throw new AutogradError('checkpoint(): fn must return a Tensor');
  if (inputs.includes(out)) return out; // fn returned an input unchanged: nothing to recompute
  out.requiresGrad = true;
  out.node = {
    op: 'checkpoint',
    inputs,
    backward: (g: Tensor) => {
      const after = rng.map((r) => r.calls);
      rng.forEach((r, i) => (r.calls = before[i]!));
      // Leaves standing in for the inputs: the recomputed graph stops at them.
      const xs = inputs.map((t) => {
        const x = t.detach();
        x.requiresGrad = t.requiresGrad;
        return x;
      });
      try {
        const y = enableGrad(() => autocast(dtype, () => fn(...xs)));
        if (y.shape.join() !== out.shape.join() || y.dtype !== out.dtype) {
          throw new AutogradError(`checkpoint(): the recompute gave ${y.dtype} [${y.shape}], the forward ${out.dtype} [${out.shape}] (fn must be deterministic)`);
        }
        if (y.requiresGrad) backward(y, g);
        return xs.map((x) => {
          const gx = x.grad;
          x.grad = null;
          return gx;
        });
      } finally {
        rng.forEach((r, i) => (r.calls = after[i]!));
      }
    },
  };
  saveVersions(out.node, noteRecorded(out)); // the recompute reads every input
  return out;
}
