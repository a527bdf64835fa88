/**
 * Property tests of the elementwise ops: every op on random numpy-broadcasting shapes (size-1 axes,
 * odd sizes) and random values in its domain. Each case compares the WGSL forward and backward with
 * the float64 CPU reference and the CPU backward with central finite differences (checkOp).
 *
 * Tolerances (GPU f32 vs CPU f64): forward rtol 1e-5 / atol 1e-6 (transcendentals: atol 2e-6..1e-5,
 * stated per test); gradients rtol 1e-4 / atol 1e-4 (they may sum over broadcast axes).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu } from '../../src/gpu/device.js';
import { erf, gelu as geluRef } from '../../src/backend/cpu/common.js';
import * as ops from '../../src/ops/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { numel, type Backend } from '../../src/backend/types.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';
import { broadcastPairArb, checkOp, forEachKernelStyle, getBackends, property, randValues, runOn, seedArb, shapeArb, type InputSpec, type RunResult, type Tol } from '../helpers/ops_harness.js';
import { tuning } from '../../src/backend/webgpu/common.js';
import { withBackend } from '../../src/backend/registry.js';
import { backward, release } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';

const log = new ErrorLog();
after(async () => {
  console.log(`worst errors (elementwise):\n${log.summary()}`);
  await shutdownGpu();
});

type Binary = (a: Tensor, b: Tensor) => Tensor;

interface BinaryCase {
  name: string;
  fn: Binary;
  /** Value ranges of a and b, and the smallest |b| (division). */
  a: [number, number];
  b: [number, number];
  bMinAbs?: number;
  fwd?: Tol;
}

const BINARY: BinaryCase[] = [
  { name: 'add', fn: ops.add, a: [-2, 2], b: [-2, 2] },
  { name: 'sub', fn: ops.sub, a: [-2, 2], b: [-2, 2] },
  { name: 'mul', fn: ops.mul, a: [-2, 2], b: [-2, 2] },
  { name: 'div', fn: ops.div, a: [-2, 2], b: [-2, 2], bMinAbs: 0.5 },
  { name: 'maximum', fn: ops.maximum, a: [-2, 2], b: [-2, 2] },
  { name: 'minimum', fn: ops.minimum, a: [-2, 2], b: [-2, 2] },
  // Positive base so that d/db = out·log(a) is defined.
  { name: 'pow', fn: ops.pow, a: [0.5, 2], b: [-2, 2], fwd: { rtol: 1e-5, atol: 2e-6 } },
];

describe('elementwise binary ops with numpy broadcasting', () => {
  for (const c of BINARY) {
    it(`${c.name}: WGSL fwd/bwd vs CPU, CPU bwd vs finite differences`, async () => {
      await property(fc.tuple(broadcastPairArb(4, 2048), seedArb), async ([[sa, sb], seed]) => {
        const a = randValues(numel(sa), seed, c.a[0], c.a[1]);
        const b = randValues(numel(sb), seed + 1, c.b[0], c.b[1], c.bMinAbs ?? 0);
        await checkOp(`${c.name} [${sa}] [${sb}]`, c.fn, [{ data: a, shape: sa }, { data: b, shape: sb }], { fwd: c.fwd, log });
      });
    });
  }

  it('only one operand requiring grad gives the other no gradient', async () => {
    await property(fc.tuple(broadcastPairArb(3, 512), seedArb, fc.constantFrom(...BINARY.slice(0, 5))), async ([[sa, sb], seed, c]) => {
      const a = randValues(numel(sa), seed, c.a[0], c.a[1]);
      const b = randValues(numel(sb), seed + 1, c.b[0], c.b[1], c.bMinAbs ?? 0);
      await checkOp(`${c.name} (b frozen)`, c.fn, [{ data: a, shape: sa }, { data: b, shape: sb, requiresGrad: false }], { log });
    }, 10);
  });

  it('scalar right operands (add/sub/mul/div/maximum/pow with a number)', async () => {
    const scalarOps: Array<[string, (x: Tensor, s: number) => Tensor, [number, number]]> = [
      ['add', ops.add, [-2, 2]], ['sub', ops.sub, [-2, 2]], ['mul', ops.mul, [-2, 2]],
      ['div', ops.div, [-2, 2]], ['maximum', ops.maximum, [-2, 2]], ['pow', ops.pow, [0.5, 2]],
    ];
    await property(
      fc.tuple(shapeArb(0, 3, 1024), seedArb, fc.constantFrom(...scalarOps), fc.constantFrom(-1.5, -0.25, 0.5, 2, 3)),
      async ([s, seed, [name, f, range], k]) => {
        const x = randValues(numel(s), seed, range[0], range[1]);
        await checkOp(`${name}(x, ${k}) [${s}]`, (t) => f(t, k), [{ data: x, shape: s }], { fwd: { rtol: 1e-5, atol: 2e-6 }, log });
      },
    );
  });
});

interface UnaryCase {
  name: string;
  fn: (x: Tensor) => Tensor;
  range: [number, number];
  /** Keep |x| above this (kinks of relu/abs). */
  minAbs?: number;
  fwd?: Tol;
  bwd?: Tol;
}

const UNARY: UnaryCase[] = [
  { name: 'neg', fn: ops.neg, range: [-3, 3] },
  { name: 'exp', fn: ops.exp, range: [-3, 3], fwd: { rtol: 1e-5, atol: 1e-6 } },
  { name: 'log', fn: ops.log, range: [0.05, 5], fwd: { rtol: 1e-5, atol: 2e-6 } },
  { name: 'sqrt', fn: ops.sqrt, range: [0.05, 5] },
  { name: 'rsqrt', fn: ops.rsqrt, range: [0.05, 5] },
  // tanh = (e^2x - 1)/(e^2x + 1) in WGSL: cancellation near 0 costs ~1e-7 absolute.
  { name: 'tanh', fn: ops.tanh, range: [-4, 4], fwd: { rtol: 1e-5, atol: 2e-6 } },
  { name: 'relu', fn: ops.relu, range: [-2, 2], minAbs: 1e-3 },
  // WGSL erf is Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7), the CPU uses a float64 erf.
  { name: 'gelu', fn: ops.gelu, range: [-5, 5], fwd: { rtol: 1e-5, atol: 2e-6 }, bwd: { rtol: 1e-4, atol: 5e-6 } },
  { name: 'sigmoid', fn: ops.sigmoid, range: [-6, 6] },
  { name: 'abs', fn: ops.abs, range: [-2, 2], minAbs: 1e-3 },
  { name: 'square', fn: ops.square, range: [-2, 2] },
  // Away from the pole: d(1/x)/dx = -1/x² is at most 16 here.
  { name: 'recip', fn: ops.recip, range: [-3, 3], minAbs: 0.25 },
  { name: 'sin', fn: ops.sin, range: [-6, 6], fwd: { rtol: 1e-5, atol: 2e-6 } },
  { name: 'cos', fn: ops.cos, range: [-6, 6], fwd: { rtol: 1e-5, atol: 2e-6 } },
  { name: 'clamp', fn: (x) => ops.clamp(x, -0.5, 0.75), range: [-2, 2] },
  { name: 'clamp-lo', fn: (x) => ops.clamp(x, 0.25), range: [-2, 2] },
  { name: 'clamp-hi', fn: (x) => ops.clamp(x, null, -0.25), range: [-2, 2] },
];

describe('elementwise unary ops', () => {
  for (const c of UNARY) {
    it(`${c.name}: WGSL fwd/bwd vs CPU, CPU bwd vs finite differences`, async () => {
      await property(fc.tuple(shapeArb(0, 4, 4096), seedArb), async ([s, seed]) => {
        const x = randValues(numel(s), seed, c.range[0], c.range[1], c.minAbs ?? 0);
        await checkOp(`${c.name} [${s}]`, c.fn, [{ data: x, shape: s }], { fwd: c.fwd, bwd: c.bwd, log });
      });
    });
  }

  it('recip: the backward reads only the output, so release() frees the input at once; the gradient is -g/x²', async () => {
    for (const be of Object.values(await getBackends())) {
      const w = withBackend(be, () => ops.tensor([0.5, -2, 4], undefined, { requiresGrad: true }));
      const freed = tidy(() => {
        const x = ops.mul(w, 2);
        const y = ops.recip(x);
        release(x);
        release(y);
        const early = [x.isDisposed, y.isDisposed];
        backward(ops.sum(y));
        return early;
      });
      assert.deepEqual(freed, [true, false], `${be.name}: x freed at release, y kept for the backward`);
      // d/dw 1/(2w) = -1/(2w²)
      assertClose(await w.grad!.dataRaw(), [-2, -0.125, -1 / 32], { rtol: 1e-6, label: `${be.name} d recip` });
      w.dispose();
    }
  });

  it('pow with a scalar exponent: integer exponents on signed bases, real exponents on positive bases', async () => {
    const exps = fc.oneof(
      fc.constantFrom(0, 1, 2, 3, -1, -2).map((e) => ({ e, lo: -2, hi: 2, minAbs: 0.25 })),
      fc.constantFrom(0.5, 1.5, -0.5, -2.5, 2.25).map((e) => ({ e, lo: 0.1, hi: 3, minAbs: 0 })),
    );
    await property(fc.tuple(shapeArb(0, 3, 2048), seedArb, exps), async ([s, seed, { e, lo, hi, minAbs }]) => {
      const x = randValues(numel(s), seed, lo, hi, minAbs);
      await checkOp(`pow(x, ${e}) [${s}]`, (t) => ops.pow(t, e), [{ data: x, shape: s }], {
        fwd: { rtol: 2e-5, atol: 2e-6 }, bwd: { rtol: 2e-4, atol: 1e-4 }, log,
      });
    });
  });

  it('gelu matches x·Φ(x) from the CPU float64 erf at many points', async () => {
    // The oracle itself against reference values of erf.
    const known: Array<[number, number]> = [
      [0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527],
      [3, 0.9999779095030014], [-1.5, -0.9661051464753108], [4.5, 0.9999999998033839],
    ];
    for (const [x, want] of known) assert.ok(Math.abs(erf(x) - want) < 1e-15, `erf(${x}) = ${erf(x)}, want ${want}`);
    const n = 4001;
    const xs = Float64Array.from({ length: n }, (_, i) => Math.fround(-8 + (16 * i) / (n - 1)));
    const want = Float64Array.from(xs, geluRef);
    await checkOp('gelu on [-8, 8]', ops.gelu, [{ data: xs, shape: [n] }], { fwd: { rtol: 1e-5, atol: 2e-6 }, bwd: { rtol: 1e-4, atol: 5e-6 }, fd: false });
    // And directly against x·Φ(x): the largest absolute error is reported on failure.
    await getBackends();
    const t = ops.gelu(ops.tensor(xs, [n]));
    const got = await t.dataRaw();
    t.dispose();
    assertClose(got, want, { rtol: 1e-5, atol: 2e-6, label: 'WGSL gelu vs 0.5·x·(1 + erf(x/√2))' });
  });
});

describe('elementwise kernels on large tensors', () => {
  // The property tests above stay below a few thousand elements, where every invocation of the
  // grid-stride kernels handles at most one item; here each walks many (CPU style: contiguous
  // chunks per SIMD group, span.wgsl). Results must be exact f32: a missed or doubly-written
  // element, or one read from the wrong offset, shows. The output buffer first held NaN. (Operands
  // have equal rank here.)
  const cases: Array<[number[], number[]]> = [[[262147], [262147]], [[301, 1003], [1, 1003]], [[33, 1, 517], [1, 65, 1]], [[70001], [1]]];

  async function check(label: string, shape: number[], run: () => Tensor, want: Float32Array): Promise<void> {
    const junk = ops.tensor(new Float32Array(want.length).fill(NaN), shape);
    await junk.data();
    junk.dispose();
    const t = run();
    const got = await t.dataRaw();
    t.dispose();
    let bad = 0;
    let first = -1;
    for (let i = 0; i < want.length; i++) {
      if (!Object.is(got[i], want[i])) {
        bad++;
        if (first < 0) first = i;
      }
    }
    assert.equal(bad, 0, `${label}: ${bad} of ${want.length} elements differ, first at ${first}: got ${got[first]}, want ${want[first]}`);
  }

  it('add (same shape and broadcast) and neg are exact on every element, both kernel styles, vec4 and scalar', async () => {
    await getBackends();
    for (const vec4 of [true, false]) {
      await forEachKernelStyle(async (style) => {
        tuning.vec4 = vec4;
        try {
          for (const [sa, sb] of cases) {
            const a = Float32Array.from(randValues(numel(sa), 11, -2, 2));
            const b = Float32Array.from(randValues(numel(sb), 12, -2, 2));
            const out = sa.map((d, k) => Math.max(d, sb[k]!));
            const n = numel(out);
            // Flat index into an operand of shape s (broadcast to `out`) for output index i.
            const index = (s: number[], i: number) => {
              let rem = i;
              let off = 0;
              let stride = 1;
              for (let k = out.length - 1; k >= 0; k--) {
                const c = rem % out[k]!;
                rem = Math.floor(rem / out[k]!);
                if (s[k] !== 1) off += c * stride;
                stride *= s[k]!;
              }
              return off;
            };
            const want = new Float32Array(n);
            for (let i = 0; i < n; i++) want[i] = a[index(sa, i)]! + b[index(sb, i)]!;
            const ta = ops.tensor(a, sa);
            const tb = ops.tensor(b, sb);
            const label = `${style} vec4=${vec4} [${sa}] + [${sb}]`;
            await check(label, out, () => ops.add(ta, tb), want);
            await check(`${style} vec4=${vec4} neg [${sa}]`, sa, () => ops.neg(ta), a.map((v) => -v));
            ta.dispose();
            tb.dispose();
          }
        } finally {
          tuning.vec4 = true;
        }
      });
    }
  });
});

describe('NaN propagation (torch semantics)', () => {
  // Eight elements so that same-shape f32 operands take the vec4 kernels too.
  const N = NaN;
  const a = [N, -1, 2, N, 0.5, -3, N, 4];
  const b = [0, N, 1, 5, 0.5, N, N, -4];

  /** fn on the CPU reference and on WebGPU (both kernel styles, vec4 on and off): out and grads must equal `want` (NaN = NaN). */
  async function expectAll(label: string, fn: (...xs: Tensor[]) => Tensor, inputs: InputSpec[], want: { out: number[]; grads?: Array<number[] | null> }): Promise<void> {
    const { gpu, cpu } = await getBackends();
    const check = (who: string, r: RunResult) => {
      assertClose(r.out, want.out, { rtol: 0, atol: 0, equalNan: true, label: `${label} forward (${who})` });
      want.grads?.forEach((g, i) => {
        if (g) assertClose(r.grads[i]!, g, { rtol: 0, atol: 0, equalNan: true, label: `${label} grad ${i} (${who})` });
      });
    };
    const w = want.grads ? new Array<number>(want.out.length).fill(1) : undefined;
    check('cpu', await runOn(cpu, fn, inputs, w));
    for (const vec4 of [true, false]) {
      await forEachKernelStyle(async (style) => {
        tuning.vec4 = vec4;
        try {
          check(`webgpu ${style} vec4=${vec4}`, await runOn(gpu, fn, inputs, w));
        } finally {
          tuning.vec4 = true;
        }
      });
    }
  }

  it('maximum propagates NaN from either operand (same shape, broadcast, scalar)', async () => {
    await expectAll('maximum(a, b)', ops.maximum, [{ data: a, shape: [8], requiresGrad: false }, { data: b, shape: [8], requiresGrad: false }], {
      out: [N, N, 2, N, 0.5, N, N, 4],
    });
    await expectAll('maximum(a [2,4], b [4])', ops.maximum, [{ data: a, shape: [2, 4], requiresGrad: false }, { data: b.slice(0, 4), shape: [4], requiresGrad: false }], {
      out: [N, N, 2, N, 0.5, N, N, 5],
    });
    await expectAll('maximum(a, 0)', (x) => ops.maximum(x, 0), [{ data: a, shape: [8], requiresGrad: false }], { out: [N, 0, 2, N, 0.5, 0, N, 4] });
  });

  it('minimum and clamp propagate NaN too', async () => {
    await expectAll('minimum(a, b)', ops.minimum, [{ data: a, shape: [8], requiresGrad: false }, { data: b, shape: [8], requiresGrad: false }], {
      out: [N, N, 1, N, 0.5, N, N, -4],
    });
    await expectAll('clamp(a, -1, 1)', (x) => ops.clamp(x, -1, 1), [{ data: a, shape: [8] }], { out: [N, -1, 1, N, 0.5, -1, N, 1], grads: [[0, 1, 0, 0, 1, 0, 0, 0]] });
  });

  it('relu keeps NaN and passes the gradient of a NaN input on (threshold_backward)', async () => {
    await expectAll('relu', ops.relu, [{ data: a, shape: [8] }], { out: [N, 0, 2, N, 0.5, 0, N, 4], grads: [[1, 0, 1, 1, 1, 0, 1, 1]] });
  });
});

describe('gradients at non-smooth points follow torch', () => {
  const grads = async (be: Backend, fn: (a: Tensor, b: Tensor) => Tensor, a: number[], b: number[], sb: number[] = [b.length]) => {
    const r = await runOn(be, fn, [{ data: a, shape: [a.length] }, { data: b, shape: sb }], new Array<number>(a.length).fill(1));
    return r.grads.map((g) => [...g!]);
  };

  it('maximum splits the gradient 0.5/0.5 at ties (also broadcast), and gives all of it to both operands at NaN', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [gpu, cpu]) {
      assertClose((await grads(be, ops.maximum, [1, 2], [1, 3]))[0]!, [0.5, 0], { label: `${be.name} a at a tie` });
      assertClose((await grads(be, ops.maximum, [1, 2], [1, 3]))[1]!, [0.5, 1], { label: `${be.name} b at a tie` });
      const [ga, gb] = await grads(be, ops.maximum, [1, 2, 1], [1], []);
      assertClose(ga!, [0.5, 1, 0.5], { label: `${be.name} a vs a 0-d b` });
      assertClose(gb!, [1], { label: `${be.name} 0-d b: two half shares` });
      const [na, nb] = await grads(be, ops.maximum, [NaN, 1], [0, NaN]);
      assertClose(na!, [1, 1], { label: `${be.name} a at NaN` });
      assertClose(nb!, [1, 1], { label: `${be.name} b at NaN` });
    }
  });

  it('pow: no NaN from 0·∞ at base 0 (exponent gradient 0 where a == 0 and b >= 0; base gradient 0 where b == 0)', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [gpu, cpu]) {
      const [ga, gb] = await grads(be, ops.pow, [0, 2, 0, 3], [1.5, 1.5, 0, 0]);
      assertClose(gb!, [0, 2 ** 1.5 * Math.log(2), 0, Math.log(3)], { rtol: 1e-5, label: `${be.name} exponent gradient` });
      assertClose(ga!, [0, 1.5 * Math.sqrt(2), 0, 0], { rtol: 1e-5, label: `${be.name} base gradient` });
      const r = await runOn(be, (x) => ops.pow(x, 0), [{ data: [0, 2], shape: [2] }], [1, 1]);
      assertClose(r.grads[0]!, [0, 0], { label: `${be.name} d(x**0)/dx at 0` });
    }
  });
});

describe('ne / le and the other comparisons', () => {
  it('give 1/0 as the CPU reference, ties and broadcasting included, without gradient', async () => {
    const a = [1, 2, 3, 2, -1, 0];
    const b = [2, 2, 1];
    const want: Record<string, number[]> = {
      eq: [0, 1, 0, 1, 0, 0], ne: [1, 0, 1, 0, 1, 1], lt: [1, 0, 0, 0, 1, 1],
      le: [1, 1, 0, 1, 1, 1], gt: [0, 0, 1, 0, 0, 0], ge: [0, 1, 1, 1, 0, 0],
    };
    const { gpu, cpu } = await getBackends();
    for (const [name, f] of [['eq', ops.eq], ['ne', ops.ne], ['lt', ops.lt], ['le', ops.le], ['gt', ops.gt], ['ge', ops.ge]] as const) {
      for (const be of [cpu, gpu]) {
        const r = await runOn(be, (x, y) => f(x, y), [{ data: a, shape: [2, 3] }, { data: b, shape: [3] }], [1, 1, 1, 1, 1, 1]);
        assert.deepEqual([...r.out], want[name], `${be.name} ${name}`);
        assert.deepEqual(r.grads, [null, null], `${be.name} ${name}: no gradient`);
      }
    }
  });
});

describe('comparisons of integer tensors', () => {
  it('i32/u32 operands compare exactly (beyond 2^24, above 2^31 for u32), broadcast, and give f32 1/0: GPU = CPU', async () => {
    const { gpu, cpu } = await getBackends();
    const big = 2 ** 24;
    const cases: Array<[string, (a: Tensor, b: Tensor) => Tensor, InputSpec, InputSpec, number[]]> = [
      ['eq i32 beyond 2^24', ops.eq, { data: [big + 1, big, -5, 7], shape: [4], dtype: 'i32' }, { data: [big, big, -5, 8], shape: [4], dtype: 'i32' }, [0, 1, 1, 0]],
      ['lt u32 above 2^31', ops.lt, { data: [3e9, 1, 2 ** 32 - 1], shape: [3], dtype: 'u32' }, { data: [1, 3e9, 2 ** 32 - 2], shape: [3], dtype: 'u32' }, [0, 1, 0]],
      ['ge i32 broadcast [2,3] vs [3]', ops.ge, { data: [1, 2, 3, -1, 0, 9], shape: [2, 3], dtype: 'i32' }, { data: [2, 2, 2], shape: [3], dtype: 'i32' }, [0, 1, 1, 0, 0, 1]],
      ['ne i32', ops.ne, { data: [1, 2], shape: [2], dtype: 'i32' }, { data: [1, 3], shape: [2], dtype: 'i32' }, [0, 1]],
      ['le i32 vs f32 (promoted to float)', ops.le, { data: [1, 2, 3], shape: [3], dtype: 'i32' }, { data: [1, 1.5, 3.5], shape: [3] }, [1, 0, 1]],
    ];
    for (const [label, f, a, b, want] of cases) {
      for (const be of [cpu, gpu]) {
        const r = await runOn(be, f, [a, b]);
        assert.deepEqual([...r.out], want, `${be.name} ${label}`);
      }
      await forEachKernelStyle(async (style) => {
        const r = await runOn(gpu, f, [a, b]);
        assert.deepEqual([...r.out], want, `webgpu ${style} ${label}`);
      });
    }
  });

  it('accuracy without casts: mean(eq(argmax(logits), labels)); numbers that are not integers of the dtype compare as floats', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [cpu, gpu]) {
      const r = await runOn(be, (logits, labels) => ops.mean(ops.eq(ops.argmax(logits), labels)), [
        { data: [0.1, 0.9, 0.2, 0.8, 0.1, 0.1, 0.3, 0.3, 0.4], shape: [3, 3] },
        { data: [1, 1, 2], shape: [3], dtype: 'i32' },
      ]);
      assertClose(r.out, [2 / 3], { label: `${be.name} accuracy` });
      const half = await runOn(be, (x) => ops.eq(x, 2.5), [{ data: [2, 3], shape: [2], dtype: 'i32' }]);
      assert.deepEqual([...half.out], [0, 0], `${be.name} eq(i32, 2.5) is not a truncated eq(i32, 2)`);
      const two = await runOn(be, (x) => ops.eq(x, 2), [{ data: [2, 3], shape: [2], dtype: 'i32' }]);
      assert.deepEqual([...two.out], [1, 0], `${be.name} eq(i32, 2)`);
      await assert.rejects(runOn(be, (x, y) => ops.eq(x, y), [{ data: [1], shape: [1], dtype: 'i32' }, { data: [1], shape: [1], dtype: 'u32' }]), /eq: argument 'b' expected dtype i32/);
    }
  });
});
