/**
 * Optimizer primitives and ops: the fused AdamW kernel against the float64 CPU reference and a
 * hand-written float64 transcription of torch's AdamW formula, sumSquares on odd sizes, gradient
 * norm clipping with torch's semantics, and the AdamW class (groups, lazy state, checkpoints).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import { gpu as gpuContext, shutdownGpu } from '../../src/gpu/device.js';
import type { AdamWHyper, Backend } from '../../src/backend/types.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tidy } from '../../src/tensor/scope.js';
import { Rng } from '../../src/data/rng.js';
import { AdamW, clipCoefficient, clipGradNorm, globalGradNorm } from '../../src/ops/optim.js';
import { OpArgumentError, ShapeError } from '../../src/errors.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';

after(() => shutdownGpu());

let gpuP: Promise<Backend> | undefined;
const gpu = () => (gpuP ??= initWebGpuBackend());
const cpu = cpuBackend();

/** f32-representable values in [lo, hi), so both backends start from identical inputs. */
function values(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = new Rng(seed);
  return Float64Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r.next()));
}

/**
 * torch.optim.AdamW, transcribed from the formula (not from the kernels): decoupled decay first,
 * then the moments, then p -= lr * m̂ / (sqrt(v̂) + eps) with the bias-corrected m̂ and v̂.
 */
function torchAdamWRef(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, h: AdamWHyper): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]! * h.gradScale;
    p[i] = p[i]! - h.lr * h.weightDecay * p[i]!;
    m[i] = h.beta1 * m[i]! + (1 - h.beta1) * gi;
    v[i] = h.beta2 * v[i]! + (1 - h.beta2) * gi * gi;
    const mHat = m[i]! / (1 - h.beta1 ** h.step);
    const vHat = v[i]! / (1 - h.beta2 ** h.step);
    p[i] = p[i]! - (h.lr * mHat) / (Math.sqrt(vHat) + h.eps);
  }
}

test('adamw: first step by hand (moves by ~lr * sign(g), decay applied to the old value)', async () => {
  // p = 1, g = 0.5, lr = 0.1, wd = 0.01: p ← 0.999, m̂ = 0.5, v̂ = 0.25, p ← 0.999 - 0.1 * 0.5 / (0.5 + 1e-8).
  const want = 0.999 - (0.1 * 0.5) / (0.5 + 1e-8);
  for (const be of [cpu, await gpu()]) {
    const p = be.upload([1], [1], 'f32');
    const g = be.upload([0.5], [1], 'f32');
    const m = be.full([1], 'f32', 0);
    const v = be.full([1], 'f32', 0);
    be.adamw(p, g, m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1, gradScale: 1 });
    const got = (await be.read(p))[0]!;
    assert.ok(Math.abs(got - want) < (be.name === 'cpu' ? 1e-15 : 1e-7), `${be.name}: ${got} vs ${want}`);
    assertClose(await be.read(m), [0.05], { rtol: 1e-6 });
    assertClose(await be.read(v), [0.00025], { rtol: 1e-6 });
    for (const t of [p, g, m, v]) be.dispose(t);
  }
});

test('adamw kernel: GPU vs CPU reference vs torch formula over 12 steps (weight decay, gradScale)', async () => {
  const g = await gpu();
  const log = new ErrorLog();
  for (const [n, wd, gradScale, lr] of [[1031, 0.1, 0.37, 1e-2], [1, 0, 1, 1e-3], [70001, 0.01, 2, 3e-3]] as const) {
    const p0 = values(n, n, -2, 2);
    const ref = { p: p0.slice(), m: new Float64Array(n), v: new Float64Array(n) };
    const st = [g, cpu].map((be) => ({ be, p: be.upload(p0, [n], 'f32'), m: be.full([n], 'f32', 0), v: be.full([n], 'f32', 0) }));
    for (let step = 1; step <= 12; step++) {
      // Grads of mixed magnitudes, including a few exact zeros.
      const gr = values(n, 1000 * step + n, -1, 1).map((x, i) => (i % 97 === 5 ? 0 : x * (i % 3 === 0 ? 1e-3 : 1)));
      const h: AdamWHyper = { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: wd, step, gradScale };
      torchAdamWRef(ref.p, Float64Array.from(gr), ref.m, ref.v, h);
      for (const s of st) {
        const gt = s.be.upload(gr, [n], 'f32');
        s.be.adamw(s.p, gt, s.m, s.v, h);
        s.be.dispose(gt);
      }
    }
    const [gs, cs] = st as [(typeof st)[0], (typeof st)[0]];
    // CPU reference (float64) vs the formula: same math, different association.
    log.add('cpu p vs torch formula', assertClose(await cs.be.read(cs.p), ref.p, { rtol: 1e-12, atol: 1e-14, label: `cpu p n=${n}` }));
    log.add('cpu m vs torch formula', assertClose(await cs.be.read(cs.m), ref.m, { rtol: 1e-12, atol: 1e-16, label: `cpu m n=${n}` }));
    log.add('cpu v vs torch formula', assertClose(await cs.be.read(cs.v), ref.v, { rtol: 1e-12, atol: 1e-18, label: `cpu v n=${n}` }));
    // GPU (f32) vs float64: a few roundings per step, 12 steps. m is an average of signed grads
    // (|g| <= 2 after gradScale), so it cancels: its error scales with |g|·2^-24·steps, not with |m|.
    log.add('gpu p vs cpu', assertClose(await gs.be.read(gs.p), await cs.be.read(cs.p), { rtol: 1e-5, atol: 1e-6, label: `gpu p n=${n}` }));
    log.add('gpu m vs cpu', assertClose(await gs.be.read(gs.m), await cs.be.read(cs.m), { rtol: 1e-5, atol: 1e-7, label: `gpu m n=${n}` }));
    log.add('gpu v vs cpu', assertClose(await gs.be.read(gs.v), await cs.be.read(cs.v), { rtol: 1e-5, atol: 1e-12, label: `gpu v n=${n}` }));
    for (const s of st) for (const t of [s.p, s.m, s.v]) s.be.dispose(t);
  }
  console.log(log.summary());
});

test('f16 parameters and gradients (m, v in f32), when the adapter has shader-f16', async (t) => {
  const g = await gpu();
  if (!gpuContext().caps.f16) {
    t.skip('no shader-f16');
    return;
  }
  const n = 515;
  const p0 = values(n, 7).map((x) => Math.fround(x));
  const g0 = values(n, 8);
  // f16-representable inputs: round through an f16 upload/read.
  const toF16 = async (d: ArrayLike<number>) => Float64Array.from(await g.read(g.upload(d, [n], 'f16')));
  const [pd, gd] = [await toF16(p0), await toF16(g0)];
  const h: AdamWHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1, gradScale: 0.5 };
  const p = g.upload(pd, [n], 'f16');
  const gr = g.upload(gd, [n], 'f16');
  const m = g.full([n], 'f32', 0);
  const v = g.full([n], 'f32', 0);
  g.adamw(p, gr, m, v, h);
  const ref = { p: pd.slice(), m: new Float64Array(n), v: new Float64Array(n) };
  torchAdamWRef(ref.p, gd, ref.m, ref.v, h);
  // The parameter is stored back in f16 (relative step 2^-11).
  assertClose(await g.read(p), ref.p, { rtol: 1e-3, atol: 1e-4, label: 'f16 param' });
  assertClose(await g.read(m), ref.m, { rtol: 1e-5, atol: 1e-8, label: 'm (f32) from f16 grads' });
  let want = 0;
  for (const x of gd) want += x * x;
  const ss = g.sumSquares([gr, m]);
  let mm = 0;
  for (const x of await g.read(m)) mm += x * x;
  assertClose(await g.read(ss), [want + mm], { rtol: 1e-5, label: 'sumSquares over f16 and f32 tensors' });
  for (const x of [p, gr, m, v, ss]) g.dispose(x);
});

test('adamw rejects mismatched operands', async () => {
  for (const be of [cpu, await gpu()]) {
    const p = be.full([4], 'f32', 1);
    const g5 = be.full([5], 'f32', 1);
    const m = be.full([4], 'f32', 0);
    const h: AdamWHyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1, gradScale: 1 };
    assert.throws(() => be.adamw(p, g5, m, m, h), ShapeError);
    assert.throws(() => be.adamw(p, m, m, m, { ...h, step: 0 }), OpArgumentError);
    assert.throws(() => be.sumSquares([be.full([2], 'i32', 1)]), OpArgumentError);
    for (const t of [p, g5, m]) be.dispose(t);
  }
});

test('sumSquares: GPU vs float64 on many odd sizes and tensor counts', async () => {
  const g = await gpu();
  const sizes = [1, 2, 3, 5, 17, 255, 256, 257, 1023, 1025, 4097, 65537, 262147, 300001];
  const rng = new Rng(5);
  let worst = 0;
  for (let trial = 0; trial < 12; trial++) {
    const k = 1 + Math.floor(rng.next() * 7);
    const shapes = Array.from({ length: k }, () => {
      const n = sizes[Math.floor(rng.next() * sizes.length)]!;
      return n % 3 === 0 ? [3, n / 3] : [n];
    });
    const datas = shapes.map((s, i) => values(s.reduce((a, b) => a * b, 1), trial * 31 + i, -3, 3));
    let want = 0;
    for (const d of datas) for (const x of d) want += x * x;
    const gs = datas.map((d, i) => g.upload(d, shapes[i]!, 'f32'));
    const cs = datas.map((d, i) => cpu.upload(d, shapes[i]!, 'f32'));
    const go = g.sumSquares(gs);
    const co = cpu.sumSquares(cs);
    assert.deepEqual([...go.shape], [1]);
    const gv = (await g.read(go))[0]!;
    const cv = (await cpu.read(co))[0]!;
    assert.ok(Math.abs(cv - want) <= 1e-12 * want, `cpu ${cv} vs ${want}`);
    const rel = Math.abs(gv - want) / want;
    worst = Math.max(worst, rel);
    assert.ok(rel < 1e-5, `trial ${trial} sizes ${shapes.map((s) => `[${s}]`).join(' ')}: gpu ${gv} vs ${want} (rel ${rel.toExponential(2)})`);
    for (const t of [...gs, go]) g.dispose(t);
  }
  console.log(`sumSquares GPU vs float64: max rel error ${worst.toExponential(2)}`);
  // No tensors, or only empty ones: 0.
  for (const be of [g, cpu]) {
    const e = be.upload([], [0], 'f32');
    assert.equal((await be.read(be.sumSquares([])))[0], 0);
    assert.equal((await be.read(be.sumSquares([e])))[0], 0);
  }
});

/** A parameter with a gradient, on the current backend. */
function paramWithGrad(be: Backend, p: ArrayLike<number>, g: ArrayLike<number>, shape: number[]): Tensor {
  const t = new Tensor(be.upload(p, shape, 'f32'), be, true);
  t.grad = new Tensor(be.upload(g, shape, 'f32'), be);
  return t;
}

test('globalGradNorm and clipGradNorm follow torch clip_grad_norm_', async () => {
  for (const be of [cpu, await gpu()]) {
    const tol = be.name === 'cpu' ? 1e-12 : 1e-6;
    // grads (3, 4) and (12): norm sqrt(9 + 16 + 144) = 13.
    const a = paramWithGrad(be, [0, 0], [3, 4], [2]);
    const b = paramWithGrad(be, [0], [12], [1]);
    const noGradP = new Tensor(be.upload([1], [1], 'f32'), be, true);
    assert.ok(Math.abs((await globalGradNorm([a, b, noGradP])) - 13) < 13 * tol);
    assert.equal(await globalGradNorm([noGradP]), 0);
    // Below the limit: nothing changes (same gradient tensors).
    const ga = a.grad;
    const n1 = await clipGradNorm([a, b, noGradP], 20);
    assert.ok(Math.abs(n1 - 13) < 13 * tol);
    assert.equal(a.grad, ga);
    assertClose(await a.grad!.dataRaw(), [3, 4]);
    // Above: scaled by 6.5 / (13 + 1e-6); returns the norm before clipping.
    const n2 = await clipGradNorm([a, b, noGradP], 6.5);
    assert.ok(Math.abs(n2 - 13) < 13 * tol);
    const c = clipCoefficient(13, 6.5);
    assert.equal(c, 6.5 / (13 + 1e-6));
    assertClose(await a.grad!.dataRaw(), [3 * c, 4 * c], { rtol: tol });
    assertClose(await b.grad!.dataRaw(), [12 * c], { rtol: tol });
    assert.ok(Math.abs((await globalGradNorm([a, b])) - 6.5) < 6.5 * Math.max(tol, 1e-6));
    assert.ok(ga!.isDisposed, 'the unclipped gradient was released');
    assert.equal(clipCoefficient(1, 5), 1);
    await assert.rejects(clipGradNorm([a], 0), OpArgumentError);
    for (const t of [a, b, noGradP]) t.dispose();
  }
});

test('AdamW class: param groups, gradScale, lr override, lazy state, per-parameter steps', async () => {
  for (const be of [cpu, await gpu()]) {
    const tol = be.name === 'cpu' ? { rtol: 1e-12, atol: 1e-14 } : { rtol: 1e-5, atol: 1e-6 };
    await withBackend(be, async () => {
      const w0 = values(12, 1);
      const b0 = values(3, 2);
      const w = new Tensor(be.upload(w0, [4, 3], 'f32'), be, true);
      const b = new Tensor(be.upload(b0, [3], 'f32'), be, true);
      const frozen = new Tensor(be.upload([5], [1], 'f32'), be, true);
      const opt = new AdamW([w, b, frozen], { lr: 0.05, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1, paramGroups: [{ params: [b], weightDecay: 0 }] });
      assert.equal(opt.params.length, 3);
      const ref = { w: w0.slice(), wm: new Float64Array(12), wv: new Float64Array(12), b: b0.slice(), bm: new Float64Array(3), bv: new Float64Array(3) };
      for (let step = 1; step <= 5; step++) {
        const gw = values(12, 10 + step);
        const gb = values(3, 20 + step);
        const lr = step === 3 ? 0.01 : 0.05;
        const gradScale = step === 4 ? 0.5 : 1;
        tidy(() => {
          w.grad = new Tensor(be.upload(gw, [4, 3], 'f32'), be).keep();
          // b has no gradient at step 2: skipped, its step count stays behind (as torch).
          if (step !== 2) b.grad = new Tensor(be.upload(gb, [3], 'f32'), be).keep();
          opt.step({ lr: step === 3 ? 0.01 : undefined, gradScale });
          opt.zeroGrad();
        });
        const base = { beta1: 0.8, beta2: 0.99, eps: 1e-6, gradScale, lr };
        torchAdamWRef(ref.w, gw, ref.wm, ref.wv, { ...base, weightDecay: 0.1, step });
        if (step !== 2) torchAdamWRef(ref.b, gb, ref.bm, ref.bv, { ...base, weightDecay: 0, step: step === 1 ? 1 : step - 1 });
        assert.equal(w.grad, null);
      }
      assert.equal(opt.stepCount, 5);
      assertClose(await w.dataRaw(), ref.w, { ...tol, label: `${be.name} w` });
      assertClose(await b.dataRaw(), ref.b, { ...tol, label: `${be.name} b (no decay)` });
      assert.deepEqual([...(await frozen.data())], [5]);
      const st = await opt.state();
      assert.equal(st.params[2], null, 'no state for a parameter that never had a gradient');
      assert.equal(st.params[0]!.step, 5);
      assert.equal(st.params[1]!.step, 4);
      assertClose(st.params[0]!.m, ref.wm, { rtol: 1e-5, atol: 1e-7 });
      assertClose(st.params[1]!.v, ref.bv, { rtol: 1e-5, atol: 1e-9 });
      opt.dispose();
      for (const t of [w, b, frozen]) t.dispose();
    });
  }
});

test('AdamW state()/loadState() resumes exactly', async () => {
  const g = await gpu();
  await withBackend(g, async () => {
    const p0 = values(257, 3);
    const grads = Array.from({ length: 6 }, (_, i) => values(257, 100 + i));
    const run = (p: Tensor, opt: AdamW, from: number, to: number) => {
      for (let s = from; s < to; s++) {
        tidy(() => {
          p.grad = new Tensor(g.upload(grads[s]!, [257], 'f32'), g).keep();
          opt.step();
          opt.zeroGrad();
        });
      }
    };
    const a = new Tensor(g.upload(p0, [257], 'f32'), g, true);
    const optA = new AdamW([a], { lr: 0.02, weightDecay: 0.05 });
    run(a, optA, 0, 3);
    const saved = await optA.state();
    const pSaved = await a.data();
    run(a, optA, 3, 6);

    const b = new Tensor(g.upload(pSaved, [257], 'f32'), g, true);
    const optB = new AdamW([b], { lr: 0.5, weightDecay: 0.05 });
    optB.loadState(saved);
    assert.equal(optB.stepCount, 3);
    assert.equal(optB.lr, 0.02);
    run(b, optB, 3, 6);
    assert.deepEqual([...(await b.data())], [...(await a.data())]);

    const c = new Tensor(g.upload(p0.slice(0, 7), [7], 'f32'), g, true);
    const optC = new AdamW([c]);
    assert.throws(() => optC.loadState(saved), ShapeError);
    assert.throws(() => new AdamW([c], { paramGroups: [{ params: [c] }, { params: [c], weightDecay: 0 }] }), OpArgumentError);
    assert.throws(() => new AdamW([c], { lr: -1 }), OpArgumentError);
    for (const o of [optA, optB, optC]) o.dispose();
    for (const t of [a, b, c]) t.dispose();
  });
});

test('AdamW steps and clipping keep GPU memory flat', async () => {
  const g = await gpu();
  await withBackend(g, async () => {
    const ps = [[64, 33], [33], [1, 7]].map((s, i) => new Tensor(g.upload(values(s.reduce((x, y) => x * y, 1), 50 + i), s, 'f32'), g, true));
    const opt = new AdamW(ps, { lr: 1e-3 });
    let bytes0 = 0;
    for (let s = 0; s < 30; s++) {
      tidy(() => {
        for (const [i, p] of ps.entries()) p.grad = new Tensor(g.randomNormal(p.shape, 1000 * s + i, 0, 1), g).keep();
      });
      await clipGradNorm(ps, 1);
      tidy(() => {
        opt.step();
        opt.zeroGrad();
      });
      await g.sync();
      if (s === 2) bytes0 = g.bytesInUse();
    }
    assert.equal(g.bytesInUse(), bytes0);
    opt.dispose();
    for (const p of ps) p.dispose();
  });
});
