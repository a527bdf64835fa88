/**
 * where / maskedFill (gradients masked and summed back to broadcast inputs) against the CPU and
 * finite differences, and the attention-mask builders (causal + padding, HF's finfo.min bias).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gpu as gpuCtx, shutdownGpu } from '../../src/gpu/device.js';
import { where, maskedFill, causalMask, attentionBias, softmax, add, FLOAT32_MIN, FLOAT16_MIN } from '../../src/ops/index.js';
import { withBackend } from '../../src/backend/registry.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/data/rng.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';
import { broadcastableTo, checkOp, getBackends, property, randValues, seedArb, shapeArb } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(log.summary());
  await shutdownGpu();
});

function maskValues(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
}

describe('where / maskedFill', () => {
  it('WGSL = CPU, gradients summed to broadcast shapes = finite differences', async () => {
    const arb = shapeArb(0, 3, 2000, [1, 2, 3, 5, 17, 65]).chain((s) => fc.tuple(fc.constant(s), broadcastableTo(s), broadcastableTo(s), broadcastableTo(s), seedArb));
    await property(arb, async ([out, cs, as, bs, seed]) => {
      // The output shape is the broadcast of the three; make one operand carry the full shape.
      const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
      await checkOp(`where out [${out}] cond [${cs}] a [${as}] b [${out}]`, (c, a, b) => where(c!, a!, b!), [
        { data: maskValues(n(cs), seed), shape: cs, requiresGrad: false },
        { data: randValues(n(as), seed + 1), shape: as },
        { data: randValues(n(out), seed + 2), shape: out },
      ], { fwd: { rtol: 0, atol: 0 }, bwd: { rtol: 1e-5, atol: 1e-6 }, fd: { maxElements: 10 }, log: log.grouped('where random') });
      await checkOp(`maskedFill x [${bs}] mask [${out}]`, (x, m) => maskedFill(x!, m!, -7.5), [
        { data: randValues(n(bs), seed + 3), shape: bs },
        { data: maskValues(n(out), seed + 4), shape: out, requiresGrad: false },
      ], { fwd: { rtol: 0, atol: 0 }, bwd: { rtol: 1e-5, atol: 1e-6 }, fd: { maxElements: 10 }, log: log.grouped('maskedFill random') });
    }, 25);
  });

  it('number operands and i32 conditions', async () => {
    const { gpu: g, cpu } = await getBackends();
    for (const be of [g, cpu]) {
      const c = new Tensor(be.upload([1, 0, 5, 0], [4], 'i32'), be);
      const x = new Tensor(be.upload([1, 2, 3, 4], [4], 'f32'), be);
      assert.deepEqual(Array.from(await withBackend(be, () => where(c, 0, x)).dataRaw()), [0, 2, 0, 4]);
      assert.deepEqual(Array.from(await withBackend(be, () => where(c, x, 9)).dataRaw()), [1, 9, 3, 9]);
      assert.throws(() => where(c, 1, 2), /where: argument 'a\/b' expected at least one tensor/);
    }
  });
});

describe('attention masks', () => {
  it('causalMask(T) is 0 on and below the diagonal, float32 min above', async () => {
    const { gpu: g, cpu } = await getBackends();
    for (const be of [g, cpu]) {
      const m = await withBackend(be, () => causalMask(4)).dataRaw();
      const want: number[] = [];
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) want.push(j <= i ? 0 : FLOAT32_MIN);
      assertClose(m, want, { rtol: 0, atol: 0, label: `${be.name} causalMask` });
    }
    if (!gpuCtx().caps.f16) return; // f16 masks need shader-f16 (NVIDIA: only with the unsafe toggles)
    const h = await withBackend(g, () => causalMask(3, { dtype: 'f16' })).data();
    assert.equal(h[1], FLOAT16_MIN);
    const hb = await withBackend(g, () => attentionBias(new Tensor(g.upload([1, 0], [1, 2], 'i32'), g), { dtype: 'f16' })).data();
    assert.deepEqual(Array.from(hb), [0, FLOAT16_MIN, 0, FLOAT16_MIN]);
  });

  it('attentionBias combines padding and causality as Hugging Face ([B, 1, T, T])', async () => {
    const { gpu: g, cpu } = await getBackends();
    const B = 2;
    const T = 5;
    const pad = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]]; // right padding, left padding
    for (const be of [g, cpu]) {
      for (const causal of [true, false]) {
        const mask = new Tensor(be.upload(pad.flat(), [B, T], 'i32'), be);
        const bias = withBackend(be, () => (causal ? attentionBias(mask) : attentionBias(mask, false)));
        assert.deepEqual([...bias.shape], [B, 1, T, T]);
        const want: number[] = [];
        for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) want.push(pad[b]![j] && (!causal || j <= i) ? 0 : FLOAT32_MIN);
        assertClose(await bias.dataRaw(), want, { rtol: 0, atol: 0, label: `${be.name} attentionBias causal=${causal}`, shape: [B, 1, T, T] });
      }
    }
  });

  it('softmax over masked scores: masked keys get 0, a fully masked row is uniform (not NaN)', async () => {
    const { gpu: g } = await getBackends();
    const T = 3;
    const mask = new Tensor(g.upload([0, 1, 1], [1, T], 'f32'), g);
    const scores = new Tensor(g.upload(randValues(T * T, 5, -3, 3), [1, 1, T, T], 'f32'), g);
    const p = await withBackend(g, () => softmax(add(scores, attentionBias(mask)))).dataRaw();
    // Row 0 may attend only key 0, which is padding: every entry is finfo.min + score ≈ finfo.min.
    assert.ok(Array.from(p).every(Number.isFinite), 'no NaN');
    assertClose(p.slice(0, 3), [1 / 3, 1 / 3, 1 / 3], { rtol: 1e-6, label: 'fully masked row' });
    assert.equal(p[3], 0, 'row 1 key 0 (padding) has probability 0');
    assert.equal(p[5], 0, 'row 1 key 2 (future) has probability 0');
    assert.equal(p[4], 1);
    assert.equal(p[6], 0);
  });
});
