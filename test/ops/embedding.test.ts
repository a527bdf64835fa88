/**
 * embedding: WGSL gather and deterministic scatter-add backward against the float64 CPU reference
 * for random tables and id tensors of any rank (many duplicates, padding row), CPU gradients
 * against central differences, padding row gets exactly zero gradient, bad ids.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { embedding } from '../../src/ops/index.js';
import { backward } from '../../src/autograd/tape.js';
import { withBackend } from '../../src/backend/registry.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { Backend } from '../../src/backend/types.js';
import { Rng } from '../../src/data/rng.js';
import { OpArgumentError } from '../../src/errors.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';
import { checkOp, getBackends, property, randValues, seedArb, shapeArb } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(log.summary());
  await shutdownGpu();
});

function idsFor(n: number, V: number, seed: number, distinct: number): Int32Array {
  const rng = new Rng(seed);
  // Draw from a few distinct rows so that duplicates (long scatter chains) are common.
  const pool = Array.from({ length: Math.min(V, distinct) }, () => rng.int(V));
  return Int32Array.from({ length: n }, () => rng.pick(pool));
}

describe('embedding', () => {
  it('WGSL = CPU and CPU backward = finite differences (random tables, id shapes, duplicates, padding)', async () => {
    const arb = fc.tuple(
      fc.constantFrom(1, 2, 7, 50, 300), fc.constantFrom(1, 3, 16, 65, 257), shapeArb(0, 3, 200, [1, 2, 3, 5, 17]),
      fc.constantFrom(1, 3, 1000), fc.constantFrom<number | null>(null, 0, -1), seedArb,
    ).filter(([V, C, ids]) => V * C <= 20000 && ids.reduce((a, b) => a * b, 1) * C <= 20000);
    await property(arb, async ([V, C, idShape, distinct, paddingIdx, seed]) => {
      const n = idShape.reduce((a, b) => a * b, 1);
      const ids = idsFor(n, V, seed + 1, distinct);
      const pad = paddingIdx === null ? null : (paddingIdx + V) % V;
      // The padding row is read in forward but gets no gradient by definition (as torch), so
      // finite differences only apply when it is not looked up.
      const fd = pad !== null && ids.includes(pad) ? (false as const) : { maxElements: 10 };
      await checkOp(`embedding V ${V} C ${C} ids [${idShape}] pad ${paddingIdx}`, (t, i) => embedding(t!, i!, { paddingIdx }), [
        { data: randValues(V * C, seed), shape: [V, C] },
        { data: ids, shape: idShape, dtype: 'i32' },
      ], { fwd: { rtol: 0, atol: 0 }, bwd: { rtol: 1e-5, atol: 1e-6 }, fd, log: log.grouped('embedding random') });
    }, 30);
  });

  it('the padding row gets exactly zero gradient; others sum every occurrence', async () => {
    const { gpu: g, cpu } = await getBackends();
    const V = 6;
    const C = 5;
    const ids = [[1, 3, 1], [1, 0, 1]];
    for (const be of [g, cpu]) {
      const table = new Tensor(be.upload(randValues(V * C, 3), [V, C], 'f32'), be, true);
      const idt = new Tensor(be.upload(ids.flat(), [2, 3], 'i32'), be);
      const out = withBackend(be, () => embedding(table, idt, { paddingIdx: 1 }));
      assert.deepEqual([...out.shape], [2, 3, C]);
      const dy = randValues(6 * C, 4);
      withBackend(be, () => backward(out, new Tensor(be.upload(dy, [2, 3, C], 'f32'), be)));
      const gr = await table.grad!.dataRaw();
      const want = new Float64Array(V * C);
      ids.flat().forEach((id, i) => {
        if (id === 1) return;
        for (let c = 0; c < C; c++) want[id * C + c]! += dy[i * C + c]!;
      });
      assertClose(gr, want, { rtol: 1e-6, atol: 1e-7, label: `${be.name} embedding grad`, shape: [V, C] });
      for (let c = 0; c < C; c++) assert.equal(gr[1 * C + c], 0, `${be.name}: padding row`);
    }
  });

  it('one id repeated everywhere (a single long chain) and a 42,384-row table', async () => {
    await checkOp('embedding all same id', (t, i) => embedding(t!, i!), [
      { data: randValues(4 * 33, 1), shape: [4, 33] },
      { data: new Int32Array(700).fill(2), shape: [7, 100], dtype: 'i32' },
    ], { fwd: { rtol: 0, atol: 0 }, bwd: { rtol: 1e-5, atol: 1e-5 }, fd: false, log: log.grouped('embedding one chain') });
    const V = 42384;
    const C = 8;
    await checkOp('embedding V=42384', (t, i) => embedding(t!, i!, { paddingIdx: 1 }), [
      { data: randValues(V * C, 2), shape: [V, C] },
      { data: idsFor(300, V, 9, 40), shape: [3, 100], dtype: 'i32' },
    ], { fwd: { rtol: 0, atol: 0 }, bwd: { rtol: 1e-5, atol: 1e-6 }, fd: false, log: log.grouped('embedding V=42384') });
  });

  it('the GPU gradient is deterministic (bit-identical across runs)', async () => {
    const { gpu: g } = await getBackends();
    const ids = g.upload(idsFor(2000, 50, 3, 20), [2000], 'i32');
    const dy = g.upload(randValues(2000 * 24, 5), [2000, 24], 'f32');
    const a = await g.read(g.embeddingBackward(ids, dy, 50, -1));
    const b = await g.read(g.embeddingBackward(ids, dy, 50, -1));
    assert.deepEqual(a, b);
  });

  it('bad ids: typed error on the CPU, NaN rows on the GPU; bad arguments rejected', async () => {
    const { gpu: g, cpu } = await getBackends();
    const table = (be: Backend) => be.upload([1, 2, 3, 4, 5, 6], [3, 2], 'f32');
    assert.throws(() => cpu.embedding(table(cpu), cpu.upload([0, 3], [2], 'i32')), OpArgumentError);
    const out = await g.read(g.embedding(table(g), g.upload([2, 3, -1], [3], 'i32')));
    assertClose(out.slice(0, 2), [5, 6], { label: 'valid row' });
    assert.ok(Array.from(out.slice(2)).every(Number.isNaN), 'out-of-range rows are NaN');
    // As documented next to embedding(): bad ids contribute no gradient on the GPU.
    const tg = new Tensor(table(g), g, true);
    const ids = new Tensor(g.upload([0, 2, -1, 7], [4], 'i32'), g);
    const e = withBackend(g, () => embedding(tg, ids));
    const dy = new Tensor(g.upload(new Array<number>(8).fill(1), [4, 2], 'f32'), g);
    withBackend(g, () => backward(e, dy));
    assertClose(await tg.grad!.dataRaw(), [1, 1, 0, 0, 1, 1], { label: 'GPU gradient of a table read at bad ids' });
    for (const t of [tg, ids, e, dy]) t.dispose();
    for (const be of [g, cpu]) {
      assert.throws(() => be.embedding(table(be), be.upload([0], [1], 'f32')), /embedding: argument 'ids' expected dtype i32/);
      assert.throws(() => be.embeddingBackward(be.upload([0, 1], [2], 'i32'), be.upload([1, 2, 3], [3, 1], 'f32'), 3, -1), /embeddingBackward: argument 'dy'/);
    }
    await withBackend(cpu, async () => {
      const t = new Tensor(table(cpu), cpu);
      assert.throws(() => embedding(t, new Tensor(cpu.upload([0], [1], 'i32'), cpu), { paddingIdx: 3 }), /paddingIdx/);
    });
  });

  it('f16 tables gather exactly and accumulate gradients in f32', async (t) => {
    if (!gpu().caps.f16) return t.skip('adapter lacks shader-f16');
    const { gpu: g, cpu } = await getBackends();
    const V = 20;
    const C = 9;
    const tab = randValues(V * C, 7).map((x) => Math.round(x * 256) / 256); // exact in f16
    const ids = idsFor(64, V, 8, 5);
    const dy = randValues(64 * C, 9).map((x) => Math.round(x * 256) / 256);
    const a = g.embedding(g.upload(tab, [V, C], 'f16'), g.upload(ids, [64], 'i32'));
    const b = cpu.embedding(cpu.upload(tab, [V, C], 'f32'), cpu.upload(ids, [64], 'i32'));
    assertClose(await g.read(a), await cpu.read(b), { rtol: 0, atol: 0, label: 'f16 gather' });
    const ga = g.embeddingBackward(g.upload(ids, [64], 'i32'), g.upload(dy, [64, C], 'f16'), V, 0);
    const gb = cpu.embeddingBackward(cpu.upload(ids, [64], 'i32'), cpu.upload(dy, [64, C], 'f32'), V, 0);
    assert.equal(ga.dtype, 'f16');
    log.add('f16 grad', assertClose(await g.read(ga), await cpu.read(gb), { rtol: 2e-3, atol: 2e-3, label: 'f16 grad' }));
  });
});
