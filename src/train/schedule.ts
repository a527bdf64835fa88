/**
 * Learning-rate schedules as transformers' get_scheduler: the factor applied to the base lr at
 * optimizer step `step` (0-based, the step about to be taken), so step 0 of a warmup-free linear
 * schedule uses the full lr and the factor reaches 0 at `totalSteps`. The names are HF's
 * `lr_scheduler_type`; `constant` is HF's get_constant_schedule, which has no warmup.
 */
import { OpArgumentError } from '../errors.js';

export const SCHEDULE_KINDS = ['linear', 'cosine', 'constant', 'constant_with_warmup'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export function isScheduleKind(v: unknown): v is ScheduleKind {
  return (SCHEDULE_KINDS as readonly unknown[]).includes(v);
}

export interface ScheduleOptions {
  kind?: ScheduleKind;
  warmupSteps?: number;
  totalSteps: number;
}

/** lr multiplier at `step` (get_linear_schedule_with_warmup & co.). */
export function lrFactor(step: number, o: ScheduleOptions): number {
  const kind = o.kind ?? 'linear';
  if (!isScheduleKind(kind)) throw new OpArgumentError('lrFactor', 'kind', `one of ${SCHEDULE_KINDS.join(', ')}`, JSON.stringify(kind));
  const warm = o.warmupSteps ?? 0;
  if (!(o.totalSteps > 0)) throw new OpArgumentError('lrFactor', 'totalSteps', 'a positive number', String(o.totalSteps));
  if (kind === 'constant') return 1; // get_constant_schedule: no warmup
  if (step < warm) return step / Math.max(1, warm);
  if (kind === 'constant_with_warmup') return 1;
  const progress = (step - warm) / Math.max(1, o.totalSteps - warm);
  if (kind === 'cosine') return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
  return Math.max(0, (o.totalSteps - step) / Math.max(1, o.totalSteps - warm));
}

/** Base lr times the schedule factor. */
export function scheduledLr(baseLr: number, step: number, o: ScheduleOptions): number {
  return baseLr * lrFactor(step, o);
}

/** Warmup length as HF's get_warmup_steps: warmupSteps when > 0, else ceil(totalSteps · warmupRatio). */
export function warmupStepsFor(totalSteps: number, warmupSteps: number, warmupRatio = 0): number {
  return warmupSteps > 0 ? warmupSteps : Math.ceil(totalSteps * warmupRatio);
}
