/** Timing shared by the kernel benches (kernels, matmul, gemm_sweep): GPU time from timestamp queries. */
import { gpu } from '../src/gpu/device.js';
import { alternatingMs as alternating } from '../src/backend/webgpu/autotune.js';

/** Repetitions per variant (RADGRAD_BENCH_REPS, default 3). */
export const REPS = Number(process.env.RADGRAD_BENCH_REPS ?? 3);

/**
 * RADGRAD_BENCH_SCALE: 'full' for BioGPT's training shapes, 'small' (the default when unset) for the
 * scaled-down ones; anything else is an error rather than a silent small run.
 */
export function benchScale(): 'small' | 'full' {
  const v = process.env.RADGRAD_BENCH_SCALE;
  if (v === undefined || v === '' || v === 'small') return 'small';
  if (v === 'full') return 'full';
  throw new Error(`RADGRAD_BENCH_SCALE must be 'full' or 'small' (the default), got '${v}'`);
}

/** How many timings of the current bench file came from each source ('timestamp' or 'wall'); the runner prints and resets it. */
export const timingSources = new Map<string, number>();

/**
 * Median GPU ms of each variant after one warm-up call of each (pipeline compiles); the variants run
 * alternately in every repetition, so load changes on a shared machine hit them alike (the
 * autotuner's timing, src/backend/webgpu/autotune.ts). Each timing's source is counted in
 * timingSources, so a wall-clock fallback (no timestamp queries) shows in the run's metadata.
 */
export function alternatingMs(fns: Array<() => void>): Promise<number[]> {
  return alternating(gpu(), fns, REPS, (t) => timingSources.set(t.source, (timingSources.get(t.source) ?? 0) + 1));
}

/** f run with `target[key]` set to `value` (a tuning switch such as skinnyTuning.use), then reset to 'auto'. */
export function forcing<K extends string, T>(target: Record<K, 'auto' | boolean>, key: K, value: boolean, f: () => T): () => T {
  return () => {
    target[key] = value;
    try {
      return f();
    } finally {
      target[key] = 'auto';
    }
  };
}
