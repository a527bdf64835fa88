/**
 * Learning-rate schedules as transformers' get_scheduler: the factor applied to the base lr at
 * optimizer step `step` (0-based, the step about to be taken), so step 0 of a warmup-free linear
 * schedule uses the full lr and the factor reaches 0 at `totalSteps`.
 */
import { OpArgumentError } from '../errors.js';

export type ScheduleKind = 'linear' | 'constant' | 'cosine';

export interface ScheduleOptions {
  kind?: ScheduleKind;
  warmupSteps?: number;
  totalSteps: number;
}

/** lr multiplier at `step` (get_linear_schedule_with_warmup & co.). */
export function lrFactor(step: number, o: ScheduleOptions): number {
  const kind = o.kind ?? 'linear';
  const warm = o.warmupSteps ?? 0;
  if (!(o.totalSteps > 0)) throw new OpArgumentError('lrFactor', 'totalSteps', 'a positive number', String(o.totalSteps));
  if (step < warm) return step / Math.max(1, warm);
  if (kind === 'constant') return 1;
  const progress = (step - warm) / Math.max(1, o.totalSteps - warm);
  if (kind === 'cosine') return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
  return Math.max(0, (o.totalSteps - step) / Math.max(1, o.totalSteps - warm));
}

/** Base lr times the schedule factor. */
export function scheduledLr(baseLr: number, step: number, o: ScheduleOptions): number {
  return baseLr * lrFactor(step, o);
}
