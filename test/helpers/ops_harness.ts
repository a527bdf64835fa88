/**
 * Shared harness of the core-op property tests (test/ops/*.test.ts): random shapes and values, and
 * checkOp(), which runs one op on the float64 CPU reference and on WebGPU, compares the WGSL forward
 * and backward against the reference, checks the reference backward against central finite
 * differences (gradcheck), and verifies that the GPU run released every buffer it allocated.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import { tuning } from '../../src/backend/webgpu/common.js';
import { numel, type Backend, type DType, type HostArray } from '../../src/backend/types.js';
import { backward } from '../../src/autograd/tape.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tidy } from '../../src/tensor/scope.js';
import { gpu as gpuContext } from '../../src/gpu/device.js';
import { Rng } from '../../src/data/rng.js';
import '../../src/ops/index.js';
import { assertClose, ErrorLog } from './compare.js';
import { gradcheck, type GradcheckInput } from './gradcheck.js';

/** Axis sizes: size-1 axes and odd sizes that are not a multiple of any tile or workgroup. */
export const ODD_DIMS = [1, 2, 3, 5, 17, 65, 129] as const;

export interface Tol {
  rtol: number;
  atol: number;
}

/** f32 on the GPU against float64 on the CPU, a handful of roundings per element. */
export const TOL_EXACTISH: Tol = { rtol: 1e-5, atol: 1e-6 };
/** Results that sum many products (broadcast-gradient reductions, matmul, reductions). */
export const TOL_ACCUM: Tol = { rtol: 1e-4, atol: 1e-4 };

export interface Backends {
  gpu: Backend;
  cpu: Backend;
}

let backends: Promise<Backends> | undefined;

/** The WebGPU backend (initialised once per process) and the CPU reference. */
export function getBackends(): Promise<Backends> {
  backends ??= initWebGpuBackend().then((gpu) => ({ gpu, cpu: cpuBackend() }));
  return backends;
}

/** n values uniform in [lo, hi), rounded to f32 so that both backends see identical inputs. */
export function randValues(n: number, seed: number, lo = -1, hi = 1, minAbs = 0): Float64Array {
  const rng = new Rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = lo + (hi - lo) * rng.next();
    // Keep away from kinks (relu, abs) and poles (div) where finite differences are meaningless.
    if (Math.abs(v) < minAbs) v = v < 0 ? -minAbs - Math.abs(v) : minAbs + v;
    out[i] = Math.fround(v);
  }
  return out;
}

/** A shape of rank [minRank, maxRank] with dims from `dims` and at most maxNumel elements. */
export function shapeArb(minRank: number, maxRank: number, maxNumel: number, dims: readonly number[] = ODD_DIMS): fc.Arbitrary<number[]> {
  return fc.array(fc.constantFrom(...dims), { minLength: minRank, maxLength: maxRank }).filter((s) => numel(s) <= maxNumel);
}

/** A shape that broadcasts to `s`: a suffix of it with some axes set to 1. */
export function broadcastableTo(s: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }))
    .map(([drop, ones]) => s.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
}

/** Two numpy-broadcastable shapes (each may have fewer axes or size-1 axes). */
export function broadcastPairArb(maxRank = 4, maxNumel = 4096): fc.Arbitrary<[number[], number[]]> {
  return shapeArb(0, maxRank, maxNumel).chain((s) => fc.tuple(broadcastableTo(s), broadcastableTo(s)));
}

export const seedArb = fc.integer({ min: 1, max: 0x7fffffff });

export interface InputSpec {
  data: ArrayLike<number>;
  shape: readonly number[];
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RunResult {
  shape: number[];
  out: HostArray;
  grads: Array<HostArray | null>;
}

/** Runs fn on backend `be`: forward, then backward with upstream gradient w (when given). */
export async function runOn(be: Backend, fn: (...xs: Tensor[]) => Tensor, inputs: readonly InputSpec[], w?: ArrayLike<number>): Promise<RunResult> {
  const isFloat = (d: DType) => d === 'f32' || d === 'f16';
  // Everything is built inside tidy() and read afterwards, so that the leak check below also
  // covers tensors an op creates internally.
  const res = tidy(() =>
    withBackend(be, () => {
      const xs = inputs.map((x) => {
        const dt = x.dtype ?? 'f32';
        return new Tensor(be.upload(x.data, x.shape, dt), be, x.requiresGrad ?? isFloat(dt));
      });
      const out = fn(...xs);
      if (w && out.requiresGrad) backward(out, new Tensor(be.upload(w, out.shape, out.dtype), be));
      return { xs, out };
    }),
  );
  const out = await res.out.dataRaw();
  const grads = await Promise.all(res.xs.map((x) => (x.grad ? x.grad.dataRaw() : null)));
  const shape = [...res.out.shape];
  res.out.dispose();
  for (const x of res.xs) x.dispose();
  return { shape, out, grads };
}

export interface CheckOptions {
  /** GPU forward vs CPU forward. */
  fwd?: Tol;
  /** GPU input gradients vs CPU input gradients. */
  bwd?: Tol;
  /** CPU analytic gradients vs central differences; false skips (non-differentiable ops). */
  fd?: false | { rtol?: number; atol?: number; eps?: number; maxElements?: number };
  /** Skip the backward pass entirely (integer outputs, argmax). */
  noBackward?: boolean;
  log?: ErrorLog;
}

/**
 * One property case: CPU reference vs WGSL forward and backward (under both kernel selections),
 * finite differences on the CPU, and no GPU bytes left in use afterwards.
 */
export async function checkOp(label: string, fn: (...xs: Tensor[]) => Tensor, inputs: readonly InputSpec[], opts: CheckOptions = {}): Promise<void> {
  const { gpu, cpu } = await getBackends();
  const before = gpu.bytesInUse();
  const ref0 = await runOn(cpu, fn, inputs);
  const w = opts.noBackward ? undefined : randValues(numel(ref0.shape), numel(ref0.shape) + 7);
  const ref = opts.noBackward ? ref0 : await runOn(cpu, fn, inputs, w);
  // Both kernel selections run whatever the adapter is, so that neither goes untested: the
  // CPU-adapter style with vec4 kernels, and the GPU style (tiled matmul, barrier-tree row
  // reductions, many workgroups) with the scalar kernels.
  for (const style of [true, false]) {
    tuning.cpuStyle = style;
    tuning.vec4 = style;
    try {
      await compareGpu(`${label}${style ? '' : ' [gpu-style scalar kernels]'}`, await runOn(gpu, fn, inputs, w), ref, inputs, opts);
    } finally {
      tuning.cpuStyle = 'auto';
      tuning.vec4 = true;
    }
  }
  assert.equal(gpu.bytesInUse(), before, `${label}: GPU bytes in use changed (leak or double free)`);
  if (!opts.noBackward && opts.fd !== false) {
    const fd = opts.fd ?? {};
    await gradcheck(fn, inputs as GradcheckInput[], { maxElements: 12, rtol: 1e-5, atol: 1e-6, ...fd, label });
  }
}

/**
 * Runs body under both kernel selections (tuning.cpuStyle true, then false), for tests that call
 * the backend directly instead of going through checkOp.
 */
export async function forEachKernelStyle(body: (label: string) => Promise<void>): Promise<void> {
  for (const style of [true, false]) {
    tuning.cpuStyle = style;
    try {
      await body(style ? 'cpu-style' : 'gpu-style');
    } finally {
      tuning.cpuStyle = 'auto';
    }
  }
}

function compareGpu(label: string, got: RunResult, ref: RunResult, inputs: readonly InputSpec[], opts: CheckOptions): void {
  const fwd = opts.fwd ?? TOL_EXACTISH;
  const bwd = opts.bwd ?? TOL_ACCUM;
  assert.deepEqual(got.shape, ref.shape, `${label}: output shape`);
  // Worst errors are logged per op name (the label up to the first space or bracket).
  const key = label.split(/[ ([]/)[0]!;
  const s = assertClose(got.out, ref.out, { ...fwd, label: `${label} forward (WGSL vs CPU)`, shape: ref.shape });
  opts.log?.add(`${key} fwd`, s);
  if (!opts.noBackward) {
    inputs.forEach((x, i) => {
      const r = ref.grads[i];
      const g = got.grads[i];
      assert.equal(g === null, r === null, `${label}: input ${i} gradient present on one backend only`);
      if (r && g) {
        const sb = assertClose(g, r, { ...bwd, label: `${label} grad of input ${i} (WGSL vs CPU)`, shape: x.shape });
        opts.log?.add(`${key} bwd`, sb);
      }
    });
  }
}

/** fc.assert for async properties with the suite's bounded run count. */
export async function property<T>(arb: fc.Arbitrary<T>, check: (v: T) => Promise<void>, numRuns = 20): Promise<void> {
  await fc.assert(fc.asyncProperty(arb, check), { numRuns, includeErrorInReport: true });
}

/**
 * Records the names of the kernels launched on the GPU context's queue until restore() (which
 * puts the queue's own dispatch back): for tests that check which kernel a selection ran.
 */
export function recordLaunches(): { names: string[]; restore(): void } {
  const q = gpuContext().queue;
  const dispatch = q.dispatch;
  const names: string[] = [];
  q.dispatch = function (decl, args): void {
    names.push(decl.name);
    dispatch.call(q, decl, args);
  };
  return { names, restore: () => void (q.dispatch = dispatch) };
}
