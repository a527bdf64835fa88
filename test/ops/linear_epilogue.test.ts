/**
 * The linear epilogue of matmul (MatmulOptions.bias / activation, shaders/matmul/
 * matmul_linear_epilogue.wgsl): x·Wᵀ + b (→ gelu) in one launch, on every kernel a Linear's
 * product can take — skinny (scalar and vec4), row-broadcast, register (stored and re-laid B),
 * the GPU-style tiled kernel, and the chunked path (epilogue as separate passes) — with sizes off
 * the tiles, bias / no bias, gelu / none: WGSL forward and gradients (x, W, bias) vs the float64
 * CPU reference, and the f32 forward bit-identical to the unfused ops (matmul, add, gelu) on the
 * GPU. With gradients the GELU runs as its own op (the fused kernel keeps no pre-activation).
 * Also backend.empty (uninitialised, overwritten by concat and the KV-cache append).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gpu as gpuCtx, shutdownGpu } from '../../src/gpu/device.js';
import { bindingLimits } from '../../src/gpu/buffer_pool.js';
import * as ops from '../../src/ops/index.js';
import { linear } from '../../src/nn/linear.js';
import { noGrad } from '../../src/autograd/tape.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { gemmTuning, skinnyTuning } from '../../src/backend/webgpu/matmul.js';
import { tuning } from '../../src/backend/webgpu/common.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';
import { checkOp, getBackends, property, randValues, runOn, seedArb, TOL_ACCUM } from '../helpers/ops_harness.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/util/half.js';

const log = new ErrorLog();
after(async () => {
  console.log(`worst errors (linear epilogue):\n${log.summary()}`);
  await shutdownGpu();
});

interface Case {
  N: number;
  O: number;
  I: number;
  bias: boolean;
  gelu: boolean;
}

/** Kernel choices a Linear's product can take (matmul.ts), forced; 'auto' as the adapter picks. */
const PATHS = {
  auto: () => {},
  skinny: () => { skinnyTuning.use = true; },
  rows: () => { skinnyTuning.use = false; gemmTuning.rows = true; gemmTuning.relayout = false; },
  regs: () => { skinnyTuning.use = false; gemmTuning.rows = false; gemmTuning.relayout = false; },
  relayout: () => { skinnyTuning.use = false; gemmTuning.rows = false; gemmTuning.relayout = true; },
} as const;
type Path = keyof typeof PATHS;

async function onPath<T>(p: Path, body: () => Promise<T>): Promise<T> {
  PATHS[p]();
  try {
    return await body();
  } finally {
    skinnyTuning.use = 'auto';
    gemmTuning.rows = 'auto';
    gemmTuning.relayout = 'auto';
  }
}

const fused = (c: Case) => (x: Tensor, w: Tensor, b?: Tensor) => linear(x, w, b ?? null, c.gelu ? 'gelu' : undefined);
const unfused = (c: Case) => (x: Tensor, w: Tensor, b?: Tensor) => {
  let y = ops.matmul(x, w, { transB: true });
  if (b) y = ops.add(y, b);
  return c.gelu ? ops.gelu(y) : y;
};

function inputs(c: Case, seed: number) {
  return [
    { data: randValues(c.N * c.I, seed), shape: [c.N, c.I] },
    { data: randValues(c.O * c.I, seed + 1), shape: [c.O, c.I] },
    ...(c.bias ? [{ data: randValues(c.O, seed + 2), shape: [c.O] }] : []),
  ];
}

/** fwd + grads of x, W, bias vs the CPU reference (both kernel styles), and bit-exact vs unfused. */
async function check(p: Path, c: Case, seed: number): Promise<void> {
  const label = `linear[${p}] x[${c.N},${c.I}] W[${c.O},${c.I}]${c.bias ? ' +b' : ''}${c.gelu ? ' gelu' : ''}`;
  const ins = inputs(c, seed);
  await onPath(p, async () => {
    await checkOp(label, fused(c), ins, { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: false, log });
    // Without gradients the GELU is in the epilogue too; f32 is the same arithmetic as unfused.
    const { gpu } = await getBackends();
    const noGradIns = ins.map((x) => ({ ...x, requiresGrad: false }));
    for (const style of [true, false]) {
      tuning.cpuStyle = style;
      try {
        const a = await runOn(gpu, fused(c), noGradIns);
        const b = await runOn(gpu, unfused(c), noGradIns);
        assertClose(a.out, b.out, { rtol: 0, atol: 0, label: `${label} [cpuStyle ${style}] fused vs unfused (no grad)`, shape: a.shape });
      } finally {
        tuning.cpuStyle = 'auto';
      }
    }
  });
}

const caseArb = (ns: number[], os: number[], is: number[]) =>
  fc.record({ N: fc.constantFrom(...ns), O: fc.constantFrom(...os), I: fc.constantFrom(...is), bias: fc.boolean(), gelu: fc.boolean() });

describe('linear epilogue (bias, gelu) in the matmul kernels', () => {
  it('every kernel path, sizes off the tiles, bias / no bias, gelu / none: fwd and grads vs CPU, bit-exact vs unfused', async () => {
    const paths: Path[] = ['skinny', 'rows', 'regs', 'relayout', 'auto'];
    for (const p of paths) {
      // M around the skinny kernel's rows and the 8-row blocks, N off 4-column groups, K % 4 = 0 (vec4
      // and row kernels) and not (their scalar fallbacks).
      await property(fc.tuple(caseArb([1, 3, 9, 17, 65], [1, 5, 67, 130], [4, 7, 36, 129, 132]), seedArb), async ([c, seed]) => check(p, c, seed), 6);
    }
    await check('auto', { N: 2, O: 203, I: 1032, bias: true, gelu: true }, 3); // decode-like, row kernel K
    await check('auto', { N: 70, O: 33, I: 260, bias: true, gelu: false }, 4); // relayout sizes on CPU
  });

  it('batched operands (the backend epilogue adds bias[n] in every batch) vs CPU', async () => {
    for (const p of ['skinny', 'regs', 'auto'] as Path[]) {
      await onPath(p, async () => {
        await checkOp(`batched matmul+bias [${p}]`, (a, w, b) => ops.matmul(a, w, { transB: true, bias: b }), [
          { data: randValues(3 * 5 * 12, 1), shape: [3, 5, 12] },
          { data: randValues(3 * 7 * 12, 2), shape: [3, 7, 12] },
          { data: randValues(7, 3), shape: [7] },
        ], { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: { maxElements: 8 }, log });
      });
    }
  });

  it('f16 storage under autocast: the bias joins in f16, one rounding (vs CPU on f16-rounded data)', async (t) => {
    if (!gpuCtx().caps.f16) return t.skip('adapter lacks shader-f16');
    const { gpu, cpu } = await getBackends();
    const toF16 = (v: ArrayLike<number>) => Float64Array.from(v, (x) => f16BitsToF32(f32ToF16Bits(x)));
    for (const p of ['skinny', 'rows', 'regs', 'relayout'] as Path[]) {
      const c = { N: p === 'skinny' ? 3 : 19, O: 67, I: 132 };
      const data = [toF16(randValues(c.N * c.I, 5)), toF16(randValues(c.O * c.I, 6)), toF16(randValues(c.O, 7))];
      const shapes = [[c.N, c.I], [c.O, c.I], [c.O]];
      const fn = (x: Tensor, w: Tensor, b: Tensor) => linear(x, w, b);
      const ref = await runOn(cpu, fn, data.map((d, i) => ({ data: d, shape: shapes[i]!, requiresGrad: false })));
      const got = await onPath(p, () => runOn(gpu, fn, data.map((d, i) => ({ data: d, shape: shapes[i]!, dtype: 'f16' as const, requiresGrad: false }))));
      assertClose(got.out, ref.out, { rtol: 1e-3, atol: 1e-3, label: `f16 linear+bias [${p}]`, shape: ref.shape });
    }
  });

  it('chunked product (weight over a forced binding limit): epilogue as separate passes, vs CPU', async () => {
    const prev = bindingLimits.override;
    bindingLimits.override = 60000;
    try {
      for (const gelu of [false, true]) {
        // W [230, 97] is over the limit (the tied head's case), the product [20, 230] is not.
        const c = { N: 20, O: 230, I: 97, bias: true, gelu };
        await checkOp(`chunked linear${gelu ? ' gelu' : ''}`, fused(c), inputs(c, 9), { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: false, log });
      }
    } finally {
      bindingLimits.override = prev;
    }
  });

  it('rejects a bias of the wrong length or dtype', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [gpu, cpu]) {
      const a = be.full([2, 3], 'f32', 1);
      const w = be.full([4, 3], 'f32', 1);
      const b = be.full([3], 'f32', 1);
      assert.throws(() => be.matmul(a, w, { transB: true, bias: b }), /bias/, be.name);
      for (const t of [a, w, b]) be.dispose(t);
    }
  });

  it('backend.empty: right shape and dtype, and concat / a KV-cache-like append overwrite all of it', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [gpu, cpu]) {
      const e = be.empty([3, 5], 'f32');
      assert.deepEqual([...e.shape], [3, 5]);
      assert.equal(e.dtype, 'f32');
      be.dispose(e);
      // A recycled buffer with stale contents: concat must not show any of it.
      const junk = be.full([4 * 7], 'f32', 123);
      be.dispose(junk);
      const got = noGrad(() => {
        const x = new Tensor(be.upload(randValues(2 * 7, 1), [2, 7], 'f32'), be);
        const y = new Tensor(be.upload(randValues(2 * 7, 2), [2, 7], 'f32'), be);
        const z = ops.concat([x, y], 0);
        x.dispose();
        y.dispose();
        return z;
      });
      const v = await got.data();
      got.dispose();
      const want = [...randValues(14, 1), ...randValues(14, 2)];
      assertClose(Float64Array.from(v), Float64Array.from(want), { rtol: 1e-6, atol: 1e-7, label: `concat over empty (${be.name})`, shape: [4, 7] });
    }
  });
});
