/** Timing shared by the kernel benches (kernels, matmul): GPU time from timestamp queries. */
import { gpu } from '../src/gpu/device.js';
import { getBackend } from '../src/backend/registry.js';

/** Repetitions per variant (RADGRAD_BENCH_REPS, default 3). */
export const REPS = Number(process.env.RADGRAD_BENCH_REPS ?? 3);

/**
 * Median GPU ms of each variant after one warm-up call of each (pipeline compiles); the variants run
 * alternately in every repetition, so load changes on a shared machine hit them alike.
 */
export async function alternatingMs(fns: Array<() => void>): Promise<number[]> {
  const ctx = gpu();
  for (const fn of fns) fn();
  await getBackend().sync();
  const times = fns.map(() => [] as number[]);
  for (let r = 0; r < REPS; r++) {
    for (let i = 0; i < fns.length; i++) {
      ctx.queue.beginTiming();
      fns[i]!();
      times[i]!.push((await ctx.queue.endTiming()).ms);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

/** f run with `target[key]` set to `value` (a tuning switch such as skinnyTuning.use), then reset to 'auto'. */
export function forcing<K extends string>(target: Record<K, 'auto' | boolean>, key: K, value: boolean, f: () => void): () => void {
  return () => {
    target[key] = value;
    try {
      f();
    } finally {
      target[key] = 'auto';
    }
  };
}
