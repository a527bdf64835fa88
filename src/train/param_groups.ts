/**
 * The Trainer's AdamW parameter grouping, as transformers' Trainer.create_optimizer with
 * get_decay_parameter_names: no weight decay on biases and LayerNorm weights (LoRA matrices and
 * every other weight, embeddings included, are decayed). Shared by `Trainer` and `radgrad pretrain`.
 */
import type { Tensor } from '../tensor/tensor.js';
import { AdamW, type AdamWOptions } from '../ops/optim.js';

/** Whether parameter `name` is exempt from weight decay (a bias, or a LayerNorm weight: "...layer_norm.weight"). */
export function isNoDecayParameter(name: string): boolean {
  return name.endsWith('.bias') || name.includes('norm');
}

/**
 * AdamW over `named` parameters with `opts.weightDecay` on the decayed ones and 0 on the rest, in
 * the order the Trainer's checkpoints record (decayed parameters first, then the no-decay group).
 */
export function adamWWithNoDecay(named: ReadonlyArray<readonly [string, Tensor]>, opts: Omit<AdamWOptions, 'paramGroups'>): AdamW {
  const noDecay = named.filter(([n]) => isNoDecayParameter(n)).map(([, t]) => t);
  const decay = named.filter(([n]) => !isNoDecayParameter(n)).map(([, t]) => t);
  return new AdamW(decay, { ...opts, paramGroups: noDecay.length ? [{ params: noDecay, weightDecay: 0 }] : [] });
}
