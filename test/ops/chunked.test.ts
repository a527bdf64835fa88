/**
 * Tensors above maxStorageBufferBindingSize: with the binding limit forced down to a few KiB
 * (bindingLimits.override, the RADGRAD_MAX_BINDING_BYTES hook), every chunked kernel runs in
 * several windows on small tensors and is compared with the float64 CPU reference: embedding
 * forward/backward, matmul in all transposes (the tied LM head and its gradients), cross-entropy,
 * softmax, argmax, reductions, fill, random, strided copies, AdamW, sumSquares, dropout, cast,
 * same-shape unary/binary (gradient sums of a fully fine-tuned tied embedding). Sizes are
 * not multiples of the chunk. An op without a chunked path throws BufferTooLargeError naming its
 * kernel. Last, a real 174 MB BioGPT-sized embedding table on the adapter's own limit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { bindingLimits, bindingOffsetAlignment, maxBindingBytes } from '../../src/gpu/buffer_pool.js';
import { BufferTooLargeError } from '../../src/gpu/errors.js';
import type { Backend, DType, HostArray, RawTensor } from '../../src/backend/types.js';
import { assertClose } from '../helpers/compare.js';
import { checkOp, getBackends, randValues, TOL_ACCUM, TOL_EXACTISH } from '../helpers/ops_harness.js';
import { linear } from '../../src/nn/linear.js';
import { embedding } from '../../src/ops/index.js';
import { logSoftmax } from '../../src/ops/nn/softmax.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/util/half.js';

let gpuBe: Backend;
let cpuBe: Backend;
/** Scales sizes with the offset alignment so that chunks stay several per tensor on any adapter. */
let f = 1;

before(async () => {
  ({ gpu: gpuBe, cpu: cpuBe } = await getBackends());
  f = bindingOffsetAlignment(gpu()) / 16;
});
after(async () => {
  bindingLimits.override = undefined;
  await shutdownGpu();
});

/** Runs fn with the binding limit forced to `bytes` (restored afterwards). */
async function withLimit<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
  const prev = bindingLimits.override;
  bindingLimits.override = bytes;
  try {
    return await fn();
  } finally {
    bindingLimits.override = prev;
  }
}

const up = (be: Backend, v: ArrayLike<number>, shape: number[], dtype: DType = 'f32') => be.upload(dtype === 'f32' ? Float32Array.from(v) : Int32Array.from(v), shape, dtype);

/** Runs the same op on both backends; returns [gpu, cpu] host results (inputs/outputs disposed). */
async function both(op: (be: Backend) => RawTensor | RawTensor[]): Promise<Array<[HostArray, HostArray]>> {
  const res: HostArray[][] = [];
  for (const be of [gpuBe, cpuBe]) {
    const out = op(be);
    const outs = Array.isArray(out) ? out : [out];
    const host: HostArray[] = [];
    for (const o of outs) {
      host.push(await be.read(o));
      be.dispose(o);
    }
    res.push(host);
  }
  return res[0]!.map((g, i) => [g, res[1]![i]!]);
}

function bigOnGpu(x: RawTensor): void {
  assert.ok((x as unknown as { storage: { pb: { size: number } } }).storage.pb.size > maxBindingBytes(gpu()), 'test tensor is not over the forced limit');
}

describe('chunked bindings (forced small binding limit)', () => {
  it('embedding forward and backward gather/scatter through table windows (invalid ids, padding row)', async () => {
    // Rows of 68 bytes: an aligned chunk is 64 rows at a 256-byte offset alignment (4 at 16).
    const V = 301;
    const C = 17;
    const table = randValues(V * C, 11);
    const idsOk = [0, 5, V - 1, 5, 123, 64, 63, 77, 0, 128, V - 2, 150, 5, 9, 222];
    const dy = randValues(idsOk.length * C, 12);
    await withLimit(8192, async () => {
      const [[g, c]] = await both((be) => {
        const t = up(be, table, [V, C]);
        if (be === gpuBe) bigOnGpu(t);
        const i = up(be, idsOk, [3, 5], 'i32');
        const o = be.embedding(t, i);
        be.dispose(t);
        be.dispose(i);
        return o;
      });
      assertClose(g!, c!, { rtol: 0, atol: 0, label: 'embedding forward' });
      // Invalid ids (the CPU reference throws on them) give NaN rows, written once.
      const t = up(gpuBe, table, [V, C]);
      const bad = up(gpuBe, [-1, V, 200], [3], 'i32');
      const o = gpuBe.embedding(t, bad);
      const got = await gpuBe.read(o);
      assert.ok(Number.isNaN(got[0]!) && Number.isNaN(got[C + C - 1]!), 'invalid ids give NaN');
      assertClose(got.subarray(2 * C), table.subarray(200 * C, 201 * C), { rtol: 0, atol: 0, label: 'valid id beside invalid ones' });
      for (const z of [t, bad, o]) gpuBe.dispose(z);
      for (const pad of [-1, 5]) {
        const [[gb, cb]] = await both((be) => {
          const i = up(be, idsOk, [idsOk.length], 'i32');
          const d = up(be, dy, [idsOk.length, C]);
          const o = be.embeddingBackward(i, d, V, pad);
          if (be === gpuBe) bigOnGpu(o);
          be.dispose(i);
          be.dispose(d);
          return o;
        });
        assertClose(gb!, cb!, { ...TOL_EXACTISH, label: `embedding backward (padding ${pad})` });
      }
    });
  });

  it('matmul in every transpose with A, B and/or C over the limit (tied-head forward and gradients)', async () => {
    // A, B and C all exceed 60000 bytes; blocks split M, N and (when B is [K, N]) K.
    const [M, K, N] = [200, 97, 230];
    await withLimit(60000, async () => {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = randValues(M * K, 21);
          const b = randValues(K * N, 22);
          const [[g, c]] = await both((be) => {
            const x = up(be, a, ta ? [K, M] : [M, K]);
            const y = up(be, b, tb ? [N, K] : [K, N]);
            const o = be.matmul(x, y, { transA: ta, transB: tb });
            be.dispose(x);
            be.dispose(y);
            return o;
          });
          assertClose(g!, c!, { ...TOL_ACCUM, label: `matmul ta=${ta} tb=${tb}`, shape: [M, N] });
        }
      }
      // A leading batch of 1 is chunked as 2-D; a real batch over the limit is a typed error.
      const [[g1, c1]] = await both((be) => {
        const x = up(be, randValues(M * K, 23), [1, M, K]);
        const y = up(be, randValues(N * K, 24), [N, K]);
        const o = be.matmul(x, y, { transB: true });
        assert.deepEqual(o.shape, [1, M, N]);
        be.dispose(x);
        be.dispose(y);
        return o;
      });
      assertClose(g1!, c1!, { ...TOL_ACCUM, label: 'matmul [1, M, K]·[N, K]ᵀ' });
      const x = up(gpuBe, randValues(2 * M * K, 25), [2, M, K]);
      const y = up(gpuBe, randValues(N * K, 26), [N, K]);
      assert.throws(() => gpuBe.matmul(x, y, { transB: true }), (e: unknown) => e instanceof BufferTooLargeError && /matmul/.test(e.message) && e.limit === 60000);
      gpuBe.dispose(x);
      gpuBe.dispose(y);
    });
  });

  it('tied head through autograd: logSoftmax(x · Eᵀ) forward and gradients of x and E (both kernel styles, no leaks)', async () => {
    // E [1216, 19] and the logits [70, 1216] exceed the limit; rows of E need 64-row aligned blocks.
    const [N, V, C] = [70, 1216, 19];
    await withLimit(80000, async () => {
      await checkOp('tied head', (x, E) => logSoftmax(linear(x!, E!)), [
        { data: randValues(N * C, 61), shape: [N, C] },
        { data: randValues(V * C, 62, -0.5, 0.5), shape: [V, C] },
      ], { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: false });
      // Full fine-tuning of a tied embedding: E's gradient is the sum of the gather's scatter-add
      // and the head's, two [V, C] tensors over the limit (a same-shape add in element windows).
      await checkOp('tied embedding + head', (E, ids) => logSoftmax(linear(embedding(E!, ids!), E!)), [
        { data: randValues(V * C, 63, -0.5, 0.5), shape: [V, C] },
        { data: [1, 5, 700, 1215, 5, 64, 0], shape: [7], dtype: 'i32' },
      ], { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: false });
    });
  });

  it('cross-entropy, softmax/log-softmax (+ backward), argmax and reductions over rows of big logits', async () => {
    // Per-row tensors (targets, loss) need 64-row chunks at a 256-byte alignment: 141 = 64 + 64 + 13.
    const [R, V] = [141, 301];
    const logits = randValues(R * V, 31, -4, 4);
    const targets = Array.from({ length: R }, (_, r) => (r % 11 === 3 ? -100 : (r * 37) % V));
    const dloss = randValues(R, 32);
    const dy = randValues(R * V, 33);
    await withLimit(80000, async () => {
      const res = await both((be) => {
        const x = up(be, logits, [R, V]);
        if (be === gpuBe) bigOnGpu(x);
        const t = up(be, targets, [R], 'i32');
        const { loss, lse } = be.crossEntropy(x, t, -100);
        const dl = up(be, dloss, [R]);
        const dx = be.crossEntropyBackward(x, t, lse, dl, -100);
        const sm = be.softmax(x);
        const lsm = be.logSoftmax(x);
        const g = up(be, dy, [R, V]);
        const dsm = be.softmaxBackward(sm, g);
        const dlsm = be.logSoftmaxBackward(lsm, g);
        const am = be.argmax(x);
        const rowSum = be.reduce('sum', x, [1], false);
        const x3 = be.reshape(x, [R, 7, 43]);
        const colMax = be.reduce('max', x3, [1], false);
        be.dispose(x3);
        for (const z of [x, t, dl, g]) be.dispose(z);
        return [loss, lse, dx, sm, lsm, dsm, dlsm, am, rowSum, colMax];
      });
      const names = ['loss', 'lse', 'dlogits', 'softmax', 'logSoftmax', 'softmaxBackward', 'logSoftmaxBackward', 'argmax', 'sum rows', 'max cols'];
      res.forEach(([g, c], i) => assertClose(g, c, { ...(i >= 8 ? TOL_ACCUM : { rtol: 1e-5, atol: 1e-5 }), label: names[i] }));
    });
  });

  it('fill, random, dropout, cast, unary/binary, AdamW and sumSquares over element windows', async () => {
    const n = 3001 * f;
    await withLimit(2048 * f, async () => {
      const made = await both((be) => [be.full([n], 'f32', 2.5), be.randomUniform([n], 7, -1, 3), be.randomNormal([n], 8, 0.5, 2)]);
      made.forEach(([g, c], i) => assertClose(g, c, { rtol: 1e-5, atol: 1e-5, label: ['fill', 'randomUniform', 'randomNormal'][i] }));
      const p0 = randValues(n, 41);
      const gr = randValues(n, 42);
      const x = randValues(n, 43);
      const res = await both((be) => {
        const p = up(be, p0, [n]);
        const g = up(be, gr, [n]);
        const m = be.full([n], 'f32', 0.1);
        const v = be.full([n], 'f32', 0.2);
        const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3, gradScale: 0.5 };
        be.adamw(p, g, m, v, h);
        const small = up(be, [1, 2, 3], [3]);
        const ss = be.sumSquares([g, small, p]);
        const xx = up(be, x, [n]);
        const d = be.dropout(xx, 0.3, 99);
        const ex = be.unary('exp', xx);
        const mu = be.binary('mul', xx, g);
        for (const z of [g, small, xx]) be.dispose(z);
        return [p, m, v, ss, d, ex, mu];
      });
      const names = ['adamw param', 'adamw m', 'adamw v', 'sumSquares', 'dropout', 'unary exp', 'binary mul'];
      res.forEach(([g, c], i) => assertClose(g, c, { ...(i === 3 ? TOL_ACCUM : TOL_EXACTISH), label: names[i] }));
      // cast f32 → f16 (or i32 without shader-f16) → f32 against the same rounding on the host.
      const dt = gpu().caps.f16 ? 'f16' : 'i32';
      const xx = up(gpuBe, x, [n]);
      const half = gpuBe.cast(xx, dt);
      const back = gpuBe.cast(half, 'f32');
      const want = Float64Array.from(x, (v) => (dt === 'f16' ? f16BitsToF32(f32ToF16Bits(v)) : Math.trunc(v)));
      assertClose(await gpuBe.read(back), want, { rtol: 0, atol: 0, label: `cast via ${dt}` });
      for (const z of [xx, half, back]) gpuBe.dispose(z);
    });
  });

  it('strided copies and writes (transpose, slice, expand) from and into big tensors', async () => {
    const [R, V] = [13, 1201];
    const src = randValues(R * V, 51);
    await withLimit(16384, async () => {
      const res = await both((be) => {
        const x = up(be, src, [R, V]);
        const tr = be.stridedCopy(x, { offset: 0, strides: [1, V] }, [V, R]);
        const sl = be.stridedCopy(x, { offset: 2 * V + 5, strides: [V, 1] }, [7, V - 9]);
        const row = up(be, src.subarray(0, V), [1, V]);
        const ex = be.stridedCopy(row, { offset: 0, strides: [0, 1] }, [R, V]);
        const dst = be.full([R, V], 'f32', 0);
        be.stridedWrite(dst, { offset: V + 3, strides: [2 * V, 1] }, be.stridedCopy(x, { offset: 0, strides: [V, 1] }, [5, V - 7]));
        be.dispose(x);
        be.dispose(row);
        return [tr, sl, ex, dst];
      });
      res.forEach(([g, c], i) => assertClose(g, c, { rtol: 0, atol: 0, label: ['transpose', 'slice', 'expand', 'write'][i] }));
    });
  });

  it('an op without a chunked path throws BufferTooLargeError naming its kernel, the size and the limit', async () => {
    await withLimit(4096 * f, async () => {
      const n = 2000 * f;
      const c = gpuBe.full([n], 'f32', 1);
      const a = gpuBe.full([n], 'f32', 2);
      assert.throws(() => gpuBe.where(c, a, a), (e: unknown) =>
        e instanceof BufferTooLargeError && /kernel 'where_f32_f32'/.test(e.message) && e.limit === 4096 * f && e.requested >= n * 4 && e.limitName === 'maxStorageBufferBindingSize');
      gpuBe.dispose(c);
      gpuBe.dispose(a);
    });
  });
});

describe('a real embedding table over the adapter limit', () => {
  it('BioGPT-sized table [42384, 1024] f32: gather and tied-head logits match the host', async () => {
    const [V, C] = [42384, 1024];
    const limit = maxBindingBytes(gpu());
    if (V * C * 4 <= limit) return; // a hardware adapter binds it whole: nothing over the limit to test
    const table = new Float32Array(V * C);
    for (let i = 0; i < table.length; i++) table[i] = ((Math.imul(i, 2654435761) >>> 0) / 4294967296 - 0.5) * 0.04;
    const ids = [0, 1, 20000, 32767, 32768, 40000, V - 1];
    const E = gpuBe.upload(table, [V, C], 'f32');
    const idT = gpuBe.upload(Int32Array.from(ids), [ids.length], 'i32');
    const h = gpuBe.embedding(E, idT); // [7, C]
    const logits = gpuBe.matmul(h, E, { transB: true }); // [7, V]
    const got = await gpuBe.read(h);
    for (const [r, id] of ids.entries()) assertClose(got.subarray(r * C, (r + 1) * C), table.subarray(id * C, (id + 1) * C), { rtol: 0, atol: 0, label: `row ${id}` });
    const lg = await gpuBe.read(logits);
    // Two rows of logits on the host (float64 sums): row r · every table row.
    for (const r of [0, 4]) {
      const want = new Float64Array(V);
      const hr = table.subarray(ids[r]! * C, (ids[r]! + 1) * C);
      for (let v = 0; v < V; v++) {
        let s = 0;
        const off = v * C;
        for (let k = 0; k < C; k++) s += hr[k]! * table[off + k]!;
        want[v] = s;
      }
      assertClose(lg.subarray(r * V, (r + 1) * V), want, { ...TOL_ACCUM, label: `logits row ${r}` });
    }
    for (const z of [E, idT, h, logits]) gpuBe.dispose(z);
  });
});
