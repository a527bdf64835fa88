/**
 * addLayerNorm (residual add fused with the layer norm after it): WGSL = CPU reference on random
 * shapes (odd row lengths included) through both outputs and their gradients, bit-identical to
 * add() then layerNorm() on the GPU in both kernel styles (f16 operands go through the two ops),
 * the unfused fallback for operands the kernel does not take, and typed argument errors.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { add, addLayerNorm, layerNorm, mul } from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { withBackend } from '../../src/backend/registry.js';
import type { DType } from '../../src/backend/types.js';
import { ErrorLog } from '../helpers/compare.js';
import { checkOp, forEachKernelStyle, getBackends, property, randValues, seedArb, shapeArb } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(log.summary());
  await shutdownGpu();
});

const LENS = [1, 2, 7, 64, 255, 257, 1031];
const TOL = { fwd: { rtol: 1e-5, atol: 2e-5 }, bwd: { rtol: 1e-4, atol: 1e-4 } };

describe('addLayerNorm', () => {
  it('WGSL = CPU for sum and y, and their gradients (random shapes, affine on/off)', async () => {
    const arb = fc.tuple(shapeArb(0, 2, 40, [1, 2, 3, 5, 9]), fc.constantFrom(...LENS), fc.boolean(), seedArb)
      .filter(([lead, C]) => lead.reduce((a, b) => a * b, 1) * C <= 6000);
    await property(arb, async ([lead, C, affine, seed]) => {
      const shape = [...lead, C];
      const n = shape.reduce((a, b) => a * b, 1);
      const inputs = [
        { data: randValues(n, seed, -2, 2), shape }, { data: randValues(n, seed + 1, -2, 2), shape },
        ...(affine ? [{ data: randValues(C, seed + 2, 0.5, 1.5), shape: [C] }, { data: randValues(C, seed + 3, -1, 1), shape: [C] }] : []),
      ];
      // Both outputs in one result, so both forward values and both backward paths into x and r count.
      const fn = (x: Tensor, r: Tensor, w?: Tensor, b?: Tensor): Tensor => {
        const o = addLayerNorm(x, r, w ?? null, b ?? null, 1e-5);
        return add(o.y, mul(o.sum, 0.5));
      };
      await checkOp(`addLayerNorm [${shape}] affine ${affine}`, (...xs) => fn(xs[0]!, xs[1]!, xs[2], xs[3]), inputs, {
        ...TOL, fd: { maxElements: 8, eps: 1e-5, rtol: 1e-4, atol: 1e-6 }, log: log.grouped('addLayerNorm random'),
      });
    }, 20);
  });

  it('is bit-identical to add() then layerNorm() on the GPU (both kernel styles; f16 takes the two ops)', async () => {
    const { gpu: g } = await getBackends();
    const dtypes: DType[] = gpu().caps.f16 ? ['f32', 'f16'] : ['f32'];
    const cases: Array<[number[], boolean]> = [[[1, 1, 1024], true], [[3, 7], false], [[2, 5, 257], true], [[9, 1031], true], [[1, 1], true], [[4, 64], false]];
    await forEachKernelStyle(async (style) => {
      for (const dt of dtypes) {
        for (const [i, [shape, affine]] of cases.entries()) {
          const n = shape.reduce((a, b) => a * b, 1);
          const C = shape[shape.length - 1]!;
          const up = (d: Float64Array, s: number[]) => new Tensor(g.upload(d, s, dt), g);
          const x = up(randValues(n, 10 + i, -3, 3), shape);
          const r = up(randValues(n, 20 + i, -3, 3), shape);
          const w = affine ? up(randValues(C, 30 + i, 0.5, 1.5), [C]) : null;
          const b = affine ? up(randValues(C, 40 + i, -1, 1), [C]) : null;
          const { fused, s, y } = withBackend(g, () => {
            const fused = addLayerNorm(x, r, w, b, 1e-5);
            const s = add(x, r);
            return { fused, s, y: layerNorm(s, w, b, 1e-5) };
          });
          const label = `${style} ${dt} [${shape}]`;
          assert.deepEqual(await fused.sum.data(), await s.data(), `sum ${label}`);
          assert.deepEqual(await fused.y.data(), await y.data(), `y ${label}`);
          for (const t of [x, r, w, b, fused.sum, fused.y, s, y]) t?.dispose();
        }
      }
    });
  });

  it('falls back to add then layerNorm for a broadcast residual', async () => {
    const { cpu } = await getBackends();
    const x = new Tensor(cpu.upload(randValues(12, 1), [3, 4], 'f32'), cpu);
    const r = new Tensor(cpu.upload(randValues(4, 2), [4], 'f32'), cpu);
    const o = withBackend(cpu, () => addLayerNorm(x, r, null, null));
    const s = withBackend(cpu, () => add(x, r));
    assert.deepEqual(await o.sum.data(), await s.data());
    assert.deepEqual(await o.y.data(), await withBackend(cpu, () => layerNorm(s, null, null)).data());
  });

  it('rejects mismatched operands with typed errors', async () => {
    const { gpu: g, cpu } = await getBackends();
    for (const be of [g, cpu]) {
      const x = be.upload([1, 2, 3, 4, 5, 6], [2, 3], 'f32');
      assert.throws(() => be.addLayerNorm(x, be.upload([1, 2, 3], [1, 3], 'f32'), null, null, 1e-5), /addLayerNorm: argument 'r' expected shape \[2, 3\]/);
      assert.throws(() => be.addLayerNorm(x, be.upload([1, 2, 3, 4, 5, 6], [2, 3], 'i32'), null, null, 1e-5), /addLayerNorm: argument 'r' expected dtype f32/);
      assert.throws(() => be.addLayerNorm(x, x, be.upload([1, 2], [2], 'f32'), null, 1e-5), /addLayerNorm: argument 'weight' expected shape \[3\]/);
      assert.throws(() => be.addLayerNorm(x, x, null, null, -1), /addLayerNorm: argument 'eps'/);
      if (be === cpu || gpu().caps.f16) {
        const h = be.upload([1, 2, 3, 4, 5, 6], [2, 3], 'f16');
        assert.throws(() => be.addLayerNorm(h, h, null, null, 1e-5), /addLayerNorm: argument 'x' expected dtype f32/);
      }
    }
  });
});
