/**
 * Finite-difference gradient checks on the float64 CPU reference backend.
 *
 * gradcheck(fn, inputs) builds the inputs as CPU tensors, reduces the output to a scalar
 * L = Σ w ⊙ fn(...xs) with a fixed random w (so every output element contributes, with no
 * symmetry that could hide a wrong sign or a transposed index), runs backward(), and compares each
 * input's .grad with central differences (L(x + eps e_i) - L(x - eps e_i)) / 2 eps. Integer inputs
 * (ids, targets) and inputs with requiresGrad: false are passed through unchecked.
 */
import assert from 'node:assert/strict';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import { numel, type DType } from '../../src/backend/types.js';
import { backward, noGrad } from '../../src/autograd/tape.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/data/rng.js';
import '../../src/ops/index.js'; // wires gradient accumulation into the tape
import { multiIndex } from './compare.js';

export interface GradcheckInput {
  data: ArrayLike<number>;
  shape: readonly number[];
  /** Default f32 (stored as float64 on the CPU backend). */
  dtype?: DType;
  /** Default: true for float dtypes, false for integer ones. */
  requiresGrad?: boolean;
}

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Tolerance: |analytic - numeric| <= atol + rtol * |numeric| (defaults 1e-5 / 1e-7). */
  rtol?: number;
  atol?: number;
  /** Checks at most this many elements per input (chosen at random, seeded); default all. */
  maxElements?: number;
  /** Seed of the output weights and of the element sample (default 1). */
  seed?: number;
  label?: string;
}

export interface GradcheckReport {
  /** Largest |analytic - numeric| over checked elements, and the largest relative error. */
  maxAbs: number;
  maxRel: number;
  checked: number;
}

const isFloat = (d: DType) => d === 'f32' || d === 'f16';

/** Checks the gradients of fn at inputs on the CPU backend; throws on the first mismatch with details. */
export async function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: readonly GradcheckInput[], opts: GradcheckOptions = {}): Promise<GradcheckReport> {
  const cpu = cpuBackend();
  const eps = opts.eps ?? 1e-6;
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-7;
  const label = opts.label ? `${opts.label}: ` : '';
  const rng = new Rng(opts.seed ?? 1);
  const dtypes = inputs.map((x) => x.dtype ?? 'f32');
  const wants = inputs.map((x, i) => x.requiresGrad ?? isFloat(dtypes[i]!));
  const base = inputs.map((x) => Float64Array.from(x.data));

  const make = (datas: readonly Float64Array[], grad: boolean): Tensor[] =>
    withBackend(cpu, () => datas.map((d, i) => new Tensor(cpu.upload(d, inputs[i]!.shape, dtypes[i]!), cpu, grad && wants[i]!)));

  // Analytic gradients.
  const xs = make(base, true);
  const out = withBackend(cpu, () => fn(...xs));
  const w = Float64Array.from({ length: out.size }, () => 2 * rng.next() - 1);
  const wt = new Tensor(cpu.upload(w, out.shape, out.dtype), cpu);
  assert.ok(out.requiresGrad, `${label}output does not require grad (no differentiable input reached it)`);
  withBackend(cpu, () => backward(out, wt));

  const loss = async (datas: Float64Array[]): Promise<number> => {
    const o = noGrad(() => withBackend(cpu, () => fn(...make(datas, false))));
    const v = await o.dataRaw();
    let s = 0;
    for (let i = 0; i < v.length; i++) s += w[i]! * v[i]!;
    return s;
  };

  const report: GradcheckReport = { maxAbs: 0, maxRel: 0, checked: 0 };
  for (let k = 0; k < inputs.length; k++) {
    if (!wants[k]) continue;
    const g = xs[k]!.grad;
    assert.ok(g, `${label}input ${k} received no gradient`);
    assert.deepEqual([...g.shape], [...inputs[k]!.shape], `${label}input ${k}: gradient shape`);
    const analytic = await g.dataRaw();
    const n = numel(inputs[k]!.shape);
    let idx = Array.from({ length: n }, (_, i) => i);
    if (opts.maxElements !== undefined && n > opts.maxElements) idx = rng.shuffle(idx).slice(0, opts.maxElements).sort((a, b) => a - b);
    for (const i of idx) {
      const plus = base.map((d) => d.slice());
      const minus = base.map((d) => d.slice());
      plus[k]![i]! += eps;
      minus[k]![i]! -= eps;
      const numeric = ((await loss(plus)) - (await loss(minus))) / (2 * eps);
      const a = analytic[i]!;
      const err = Math.abs(a - numeric);
      report.checked++;
      report.maxAbs = Math.max(report.maxAbs, err);
      if (numeric !== 0) report.maxRel = Math.max(report.maxRel, err / Math.abs(numeric));
      if (!(err <= atol + rtol * Math.abs(numeric))) {
        assert.fail(
          `${label}gradient of input ${k} (shape [${inputs[k]!.shape}]) at ${i} [${multiIndex(i, inputs[k]!.shape).join(', ')}]: ` +
            `analytic ${a}, numeric ${numeric}, error ${err.toExponential(3)} > atol ${atol} + rtol ${rtol}·|numeric|`,
        );
      }
    }
  }
  return report;
}
