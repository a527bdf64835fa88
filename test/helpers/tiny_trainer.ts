/**
 * Shared fixture of the Trainer tests on the tiny golden BioGPT (test/train/*.test.ts): one Trainer
 * run on a freshly loaded model, disposed afterwards. `stopAfter` aborts once that step's metrics
 * arrive, as Ctrl-C does (the trainer saves a checkpoint at the step boundary); `resume` continues
 * from a checkpoint directory.
 */
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import '../../src/ops/index.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { Trainer, type TrainerOptions, type TrainResult } from '../../src/train/trainer.js';

export interface TinyRunControl {
  resume?: string;
  stopAfter?: number;
  /** Called with the constructed trainer and its model, before training. */
  inspect?: (t: Trainer, model: BioGptForCausalLM) => void;
}

export async function runTinyTrainer(
  be: Backend, modelDir: string, opts: Omit<TrainerOptions, 'model' | 'resume' | 'signal' | 'onMetrics'>, ctl: TinyRunControl = {},
): Promise<TrainResult> {
  return withBackend(be, async () => {
    const model = BioGptForCausalLM.fromPretrained(modelDir);
    const ac = new AbortController();
    try {
      const t = new Trainer({
        ...opts, model, signal: ac.signal,
        ...(ctl.resume ? { resume: ctl.resume } : {}),
        onMetrics: (m) => {
          if (ctl.stopAfter && m.step >= ctl.stopAfter) ac.abort();
        },
      });
      ctl.inspect?.(t, model);
      return await t.run();
    } finally {
      model.dispose();
    }
  });
}
