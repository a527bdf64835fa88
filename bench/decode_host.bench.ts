/**
 * Host (JavaScript) cost of one greedy decode step at batch 1: what bounds tokens/s on a fast GPU,
 * where the kernels of a step take well under a millisecond. For each model of
 * bench/generate.bench.ts named in RADGRAD_BENCH_HOST_MODELS (default mid,biogpt,biogpt-int8;
 * random weights) it runs a prompt of RADGRAD_BENCH_HOST_PROMPT tokens (default 8), then
 * RADGRAD_BENCH_HOST_STEPS (default 12) decode steps through DecodeStepper, and reports per step
 * (median over the steps):
 *   dispatches  - kernel launches recorded (CommandQueue.dispatch calls);
 *   host_ms     - wall time from the start of the step to the end of the submit before the
 *                 readback of the logits (recording + submit; the GPU wait excluded). The queue's
 *                 automatic submit is raised above the step's dispatch count so that no GPU work
 *                 runs (on lavapipe: competes for the CPU) while the step is recorded;
 *   host_min_ms - the fastest step (the least disturbed by other processes on a shared machine);
 *   host_cpu_ms - CPU time of the process over the same span (user + system; the GPU is idle then,
 *                 so this is the recording thread's): less sensitive to a loaded machine than wall time;
 *   dispatch_ms - the part of host_ms spent inside CommandQueue.dispatch (pipeline lookup, uniform
 *                 packing and write, bind group, encoding); the rest is the ops / tensor layer;
 *   us_per_dispatch - host_ms / dispatches;
 *   host_tok_s  - 1000 / host_ms: the tokens/s ceiling of batch-1 decoding from host time alone;
 *   step_ms     - the whole step, GPU wait and readback included (lavapipe: kernel-bound);
 *   bind_group_hits - share of launches whose bind group came from the queue's cache.
 * RADGRAD_BENCH_HOST_STYLE picks the kernel family: cpu (what this adapter uses), gpu (the
 * discrete-GPU kernels, tuning.cpuStyle = false: the dispatch mix an H100 would record), or both
 * (default). RADGRAD_BENCH_HOST_DETAIL=1 adds one row per kernel name (launches per step and
 * host µs per launch inside dispatch). RADGRAD_BENCH_HOST_QKV: a decode step's q/k/v projections in
 * one linear3 launch (fused, default), three (apart), or both side by side (qkvTuning).
 * The KV cache asks the pool for room up to the next power of two of positions, so its buffers
 * (and the bind groups of the launches that read them) change only when S crosses a power of two;
 * the hit rate is a little lower with short prompts and few steps.
 * Run: npm run bench -- decode_host
 */
import type { BioGptForCausalLM } from '../src/models/biogpt/index.js';
import { DecodeStepper } from '../src/generate/stepper.js';
import { gpu } from '../src/gpu/device.js';
import { tuning } from '../src/backend/webgpu/common.js';
import { qkvTuning } from '../src/models/biogpt/attention.js';
import type { KernelDecl, LaunchArgs } from '../src/gpu/index.js';
import { loadModel } from './generate.bench.js';
import '../src/ops/index.js';

type Row = Record<string, string | number>;

const PROMPT_LEN = Number(process.env.RADGRAD_BENCH_HOST_PROMPT ?? 8);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : 0;
};

interface Probe {
  counts: Map<string, number>;
  times: Map<string, number>;
  inDispatch: number;
  lastFlushEnd: number;
  /** process.cpuUsage() (user + system, µs) at the end of the last flush. */
  lastFlushCpu: number;
  restore(): void;
}

/** Wraps the queue's dispatch and flush to count launches per kernel and time them. */
function probe(): Probe {
  const q = gpu().queue;
  const dispatch = q.dispatch;
  const flush = q.flush;
  const p: Probe = {
    counts: new Map(), times: new Map(), inDispatch: 0, lastFlushEnd: 0, lastFlushCpu: 0,
    restore: () => {
      q.dispatch = dispatch;
      q.flush = flush;
    },
  };
  q.dispatch = function (decl: KernelDecl, args: LaunchArgs): void {
    const t = performance.now();
    dispatch.call(q, decl, args);
    const dt = performance.now() - t;
    p.inDispatch += dt;
    p.counts.set(decl.name, (p.counts.get(decl.name) ?? 0) + 1);
    p.times.set(decl.name, (p.times.get(decl.name) ?? 0) + dt);
  };
  q.flush = function (): void {
    flush.call(q);
    p.lastFlushEnd = performance.now();
    const c = process.cpuUsage();
    p.lastFlushCpu = c.user + c.system;
  };
  return p;
}

async function measure(model: BioGptForCausalLM, name: string, style: string, steps: number, detail: boolean): Promise<Row[]> {
  const vocab = model.config.vocabSize;
  const prompt = [Array.from({ length: PROMPT_LEN }, (_, i) => 4 + ((i * 17) % (vocab - 4)))];
  const q = gpu().queue;
  const stepper = new DecodeStepper(model);
  const host: number[] = [];
  const hostCpu: number[] = [];
  const inDispatch: number[] = [];
  const whole: number[] = [];
  const launches: number[] = [];
  let perKernel = new Map<string, { n: number; ms: number }>();
  // Bind-group cache hits over lookups (src/gpu/queue.ts; absent in a tree without the cache).
  const bgStats = (q as unknown as { bindGroupStats?: { hits: number; misses: number } }).bindGroupStats;
  let bg0 = { hits: 0, misses: 0 };
  const maxPending = q.maxPending;
  q.maxPending = 1 << 20;
  try {
    let logits = await stepper.prefill(prompt, [Array(PROMPT_LEN).fill(1)]);
    // Two unmeasured steps: pipelines of the decode shapes compiled, buffers pooled.
    for (let s = 0; s < steps + 2; s++) {
      let next = 4;
      for (let v = 1, best = -Infinity; v < vocab; v++) if (logits[v]! > best) [best, next] = [logits[v]!, v];
      const p = probe();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      try {
        logits = await stepper.step([next]);
      } finally {
        p.restore();
      }
      const t1 = performance.now();
      if (s < 2) {
        if (bgStats) bg0 = { ...bgStats };
        continue;
      }
      host.push(p.lastFlushEnd - t0);
      hostCpu.push((p.lastFlushCpu - c0.user - c0.system) / 1000);
      whole.push(t1 - t0);
      inDispatch.push(p.inDispatch);
      let n = 0;
      for (const [k, c] of p.counts) {
        n += c;
        const e = perKernel.get(k) ?? { n: 0, ms: 0 };
        perKernel.set(k, { n: e.n + c, ms: e.ms + p.times.get(k)! });
      }
      launches.push(n);
    }
  } finally {
    q.maxPending = maxPending;
    stepper.dispose();
  }
  const h = median(host);
  const d = median(launches);
  const rows: Row[] = [{
    model: name, kernels: style, batch: 1, prompt: PROMPT_LEN, dispatches: d, host_ms: h, host_min_ms: Math.min(...host), host_cpu_ms: median(hostCpu), dispatch_ms: median(inDispatch),
    us_per_dispatch: (1000 * h) / Math.max(1, d), host_tok_s: 1000 / h, step_ms: median(whole),
    ...(bgStats ? { bind_group_hits: (bgStats.hits - bg0.hits) / Math.max(1, bgStats.hits - bg0.hits + bgStats.misses - bg0.misses) } : {}),
  }];
  if (detail) {
    perKernel = new Map([...perKernel].sort((a, b) => b[1].ms - a[1].ms));
    for (const [k, e] of perKernel) rows.push({ model: name, kernels: style, kernel: k, per_step: e.n / steps, us_per_launch: (1000 * e.ms) / e.n });
  }
  return rows;
}

export async function bench(): Promise<Row[]> {
  const names = (process.env.RADGRAD_BENCH_HOST_MODELS ?? 'mid,biogpt,biogpt-int8').split(',').map((s) => s.trim()).filter(Boolean);
  const steps = Math.max(1, Number(process.env.RADGRAD_BENCH_HOST_STEPS ?? 12));
  const styleEnv = process.env.RADGRAD_BENCH_HOST_STYLE ?? 'both';
  const styles = ({ cpu: ['cpu'], gpu: ['gpu'], both: ['cpu', 'gpu'] } as Record<string, string[]>)[styleEnv];
  if (!styles) throw new Error(`RADGRAD_BENCH_HOST_STYLE: cpu, gpu or both (got ${styleEnv})`);
  const detail = process.env.RADGRAD_BENCH_HOST_DETAIL === '1';
  const qkvEnv = process.env.RADGRAD_BENCH_HOST_QKV ?? 'fused';
  const qkvModes = ({ fused: ['fused'], apart: ['apart'], both: ['apart', 'fused'] } as Record<string, string[]>)[qkvEnv];
  if (!qkvModes) throw new Error(`RADGRAD_BENCH_HOST_QKV: fused, apart or both (got ${qkvEnv})`);
  const rows: Row[] = [];
  for (const name of names) {
    const { model, desc } = loadModel(name);
    if (!model) {
      rows.push({ model: name, kernels: desc });
      continue;
    }
    try {
      model.eval();
      for (const style of styles) {
        const saved = tuning.cpuStyle;
        tuning.cpuStyle = style === 'cpu' ? 'auto' : false;
        try {
          for (const qkv of qkvModes) {
            qkvTuning.fuse = qkv === 'fused';
            const r = await measure(model, name, style, steps, detail);
            rows.push(...(qkvModes.length > 1 ? r.map((x) => ({ ...x, qkv })) : r));
          }
        } finally {
          tuning.cpuStyle = saved;
          qkvTuning.fuse = true;
        }
      }
    } finally {
      model.dispose();
    }
  }
  return rows;
}
