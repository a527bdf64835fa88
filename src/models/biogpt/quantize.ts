/**
 * Int8 base weights for inference and LoRA: wraps src/nn/int8_linear.ts's Int8Linear (not a Module)
 * as a LinearModule so it can replace a float Linear by path; the float weights are freed.
 */
import { Module } from '../../nn/module.js';
import { Linear, type LinearLike } from '../../nn/linear.js';
import { Int8Linear } from '../../nn/int8_linear.js';
import { withBackend } from '../../backend/registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BioGptForCausalLM } from './model.js';

export class Int8LinearModule extends Module implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(readonly q: Int8Linear) {
    super();
    this.inFeatures = q.inFeatures;
    this.outFeatures = q.outFeatures;
  }
  forward(x: Tensor): Tensor {
    return this.q.forward(x);
  }
  protected override frozenElementCount(): number {
    return this.outFeatures * this.inFeatures + (this.q.bias ? this.outFeatures : 0);
  }
  override dispose(): void {
    this.q.dispose();
  }
}

/** The decoder projections (q/k/v/out_proj, fc1, fc2) quantised to int8; returns how many. Embeddings and the head stay float. */
export function quantizeInt8(model: BioGptForCausalLM): number {
  let n = 0;
  withBackend(model.biogpt.backend, () => {
    for (const [p, m] of model.namedModules()) {
      if (!(m instanceof Linear) || !/\.(q_proj|k_proj|v_proj|out_proj|fc1|fc2)$/.test(p)) continue;
      const q = new Int8LinearModule(Int8Linear.fromLinear(m.weight, m.bias));
      model.setSubmodule(p, q);
      m.dispose();
      n++;
    }
  });
  return n;
}
