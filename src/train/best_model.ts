/**
 * load_best_model_at_end, as transformers' Trainer with metric_for_best_model "eval_loss" and
 * greater_is_better false: among the checkpoints that have an eval loss (every one, since saveEvery
 * is a multiple of evalEvery), the one with the lowest is the best. It is recorded in each later
 * checkpoint's trainer_state.json (best_metric, best_model_checkpoint, best_global_step), kept
 * out of save_total_limit's rotation, and its adapter is loaded back and written as adapter/ at the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TrainerState } from './checkpoint.js';

export interface BestModel {
  metric: number;
  checkpoint: string;
  step: number;
}

export class BestModelTracker {
  best: BestModel | undefined;

  /**
   * A checkpoint of `step` is being saved to `dir` with this step's eval loss (undefined: none):
   * it becomes the best when its loss is lower than the best's (a tie keeps the earlier, as HF's
   * strict `np.less`). Returns whether it did.
   */
  consider(step: number, evalLoss: number | undefined, dir: string): boolean {
    if (evalLoss === undefined || !Number.isFinite(evalLoss)) return false;
    if (this.best && !(evalLoss < this.best.metric)) return false;
    this.best = { metric: evalLoss, checkpoint: dir, step };
    return true;
  }

  /** The trainer_state.json fields (HF's names). */
  stateFields(): Pick<TrainerState, 'best_metric' | 'best_model_checkpoint' | 'best_global_step'> {
    return { best_metric: this.best?.metric ?? null, best_model_checkpoint: this.best?.checkpoint ?? null, best_global_step: this.best?.step ?? null };
  }

  /**
   * Takes the best from a resumed checkpoint's state. A recorded folder that moved with --out (a
   * relative path from another working directory) is looked up as `outDir/checkpoint-<step>`; one
   * that no longer exists is dropped (returned as a note).
   */
  restore(state: TrainerState, outDir: string): string | undefined {
    const { best_metric: metric, best_model_checkpoint: dir, best_global_step: step } = state;
    if (typeof metric !== 'number' || typeof dir !== 'string' || typeof step !== 'number') return undefined;
    const local = path.join(outDir, `checkpoint-${step}`);
    const found = fs.existsSync(dir) ? dir : fs.existsSync(local) ? local : undefined;
    if (!found) return `note: the best checkpoint recorded in the resumed state (${dir}, eval loss ${metric}) no longer exists; the best is tracked from here on`;
    this.best = { metric, checkpoint: found, step };
    return undefined;
  }
}
