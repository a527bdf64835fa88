/**
 * The seeded counter-based RNG: the WGSL kernels and the CPU reference draw the same stream
 * (uniform bit for bit, normal up to f32 rounding of log/sin/cos), moments are right, seeds
 * differ, and the TS hash is a pure function of (seed, index).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import { shutdownGpu } from '../../src/gpu/device.js';
import { hashU32, uniform01 } from '../../src/backend/rng.js';
import type { Backend, HostArray } from '../../src/backend/types.js';
import { kaimingUniform, kaimingUniformBound, normal, uniform, zeros, fanIn } from '../../src/nn/init.js';
import { assertClose } from '../helpers/compare.js';

after(() => shutdownGpu());

let gpuP: Promise<Backend> | undefined;
const gpu = () => (gpuP ??= initWebGpuBackend());
const cpu = cpuBackend();

async function draw(be: Backend, kind: 'uniform' | 'normal', shape: number[], seed: number, a: number, b: number): Promise<HostArray> {
  const r = kind === 'uniform' ? be.randomUniform(shape, seed, a, b) : be.randomNormal(shape, seed, a, b);
  const d = await be.read(r);
  be.dispose(r);
  return d;
}

function moments(d: ArrayLike<number>): { mean: number; variance: number; min: number; max: number } {
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < d.length; i++) {
    s += d[i]!;
    min = Math.min(min, d[i]!);
    max = Math.max(max, d[i]!);
  }
  const mean = s / d.length;
  let v = 0;
  for (let i = 0; i < d.length; i++) v += (d[i]! - mean) ** 2;
  return { mean, variance: v / d.length, min, max };
}

test('uniform01 is a pure function of (seed, index) with 24-bit resolution', () => {
  assert.equal(hashU32(1, 2), hashU32(1, 2));
  assert.notEqual(hashU32(1, 2), hashU32(2, 1));
  for (let i = 0; i < 1000; i++) {
    const u = uniform01(12345, i);
    assert.ok(u >= 0 && u < 1);
    assert.equal(u * 16777216, Math.floor(u * 16777216));
  }
});

test('GPU and CPU uniform streams are bit-identical', async () => {
  const g = await gpu();
  // Odd sizes (not multiples of the workgroup) and seeds above 2^31 (u32 wrap-around).
  for (const [n, seed, lo, hi] of [[1, 0, 0, 1], [255, 1, 0, 1], [4099, 0xdeadbeef, -1, 1], [1000, 7, -0.5, 0.5], [777, 2 ** 32 + 5, 2, 3]] as const) {
    const a = await draw(g, 'uniform', [n], seed, lo, hi);
    const b = await draw(cpu, 'uniform', [n], seed, lo, hi);
    assert.ok(a instanceof Float32Array);
    let diff = 0;
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) diff++;
    assert.equal(diff, 0, `uniform n=${n} seed=${seed} [${lo}, ${hi}): ${diff} elements differ (first ${[...a.slice(0, 3)]} vs ${[...b.slice(0, 3)]})`);
    for (let i = 0; i < n; i++) assert.ok(a[i]! >= lo && a[i]! < hi, `value ${a[i]} outside [${lo}, ${hi})`);
  }
});

test('GPU and CPU normal streams agree up to f32 rounding', async () => {
  const g = await gpu();
  for (const [n, seed, mean, std] of [[1, 3, 0, 1], [4097, 11, 0, 1], [513, 5, 2, 0.5]] as const) {
    const a = await draw(g, 'normal', [n], seed, mean, std);
    const b = await draw(cpu, 'normal', [n], seed, mean, std);
    // |z| <= 5.8 (u1 >= 2^-24); f32 log/sqrt/sin/cos carry a few ulps each.
    const s = assertClose(a, b, { rtol: 2e-5, atol: 2e-5 * std, label: `normal n=${n} seed=${seed}` });
    console.log(`normal n=${n} seed=${seed}: GPU vs CPU max abs ${s.maxAbs.toExponential(2)}`);
  }
});

test('moments of uniform and normal are right, on both backends', async () => {
  const g = await gpu();
  const n = 200_000;
  for (const be of [g, cpu]) {
    const u = moments(await draw(be, 'uniform', [n], 42, -2, 4));
    // mean 1, variance 36/12 = 3; standard error of the mean sqrt(3/n) ≈ 0.004.
    assert.ok(Math.abs(u.mean - 1) < 0.02, `${be.name} uniform mean ${u.mean}`);
    assert.ok(Math.abs(u.variance - 3) < 0.03, `${be.name} uniform variance ${u.variance}`);
    assert.ok(u.min >= -2 && u.max < 4);
    const z = moments(await draw(be, 'normal', [n], 43, 0.5, 2));
    assert.ok(Math.abs(z.mean - 0.5) < 0.02, `${be.name} normal mean ${z.mean}`);
    assert.ok(Math.abs(z.variance - 4) < 0.06, `${be.name} normal variance ${z.variance}`);
    // Fraction within one sigma ≈ 0.6827.
    const d = await draw(be, 'normal', [n], 44, 0, 1);
    let inside = 0;
    for (let i = 0; i < n; i++) if (Math.abs(d[i]!) < 1) inside++;
    assert.ok(Math.abs(inside / n - 0.6827) < 0.005, `${be.name} P(|z| < 1) = ${inside / n}`);
    // Even and odd elements (cos and sin of one pair) are uncorrelated.
    let c = 0;
    for (let i = 0; i + 1 < n; i += 2) c += d[i]! * d[i + 1]!;
    assert.ok(Math.abs(c / (n / 2)) < 0.01, `${be.name} pair correlation ${c / (n / 2)}`);
  }
});

test('different seeds give different streams; the same seed repeats', async () => {
  const g = await gpu();
  const a = await draw(g, 'uniform', [1000], 1, 0, 1);
  const b = await draw(g, 'uniform', [1000], 2, 0, 1);
  const a2 = await draw(g, 'uniform', [1000], 1, 0, 1);
  assert.deepEqual(a, a2);
  let same = 0;
  for (let i = 0; i < 1000; i++) if (a[i] === b[i]) same++;
  assert.ok(same < 5, `${same} equal elements between seeds 1 and 2`);
  // Correlation between adjacent seeds is ~0.
  let c = 0;
  for (let i = 0; i < 1000; i++) c += (a[i]! - 0.5) * (b[i]! - 0.5);
  assert.ok(Math.abs(c / 1000 / (1 / 12)) < 0.15, `correlation ${c / 1000 / (1 / 12)}`);
  const n1 = await draw(g, 'normal', [64], 1, 0, 1);
  const n2 = await draw(g, 'normal', [64], 2, 0, 1);
  assert.notDeepEqual(n1, n2);
});

test('init: kaimingUniform bound as torch (a = sqrt(5) gives 1/sqrt(fan_in)), uniform, normal, zeros', async () => {
  const g = await gpu();
  assert.equal(fanIn([32, 8]), 8);
  assert.equal(fanIn([16, 4, 3, 3]), 36);
  assert.throws(() => fanIn([5]), /at least 2 dimensions/);
  // gain = sqrt(2 / (1 + 5)) = sqrt(1/3); bound = sqrt(1/3) * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
  assert.ok(Math.abs(kaimingUniformBound(64) - 1 / 8) < 1e-15);
  assert.ok(Math.abs(kaimingUniformBound(64, 0) - Math.sqrt(6 / 64)) < 1e-15);
  for (const be of [g, cpu]) {
    await withBackend(be, async () => {
      const w = kaimingUniform([256, 64], Math.sqrt(5), 9, { requiresGrad: true });
      assert.ok(w.requiresGrad);
      const m = moments(await w.data());
      assert.ok(m.min >= -1 / 8 && m.max < 1 / 8, `${be.name} kaiming range [${m.min}, ${m.max}]`);
      assert.ok(m.max > 0.12 && m.min < -0.12, 'kaiming fills its range');
      assert.ok(Math.abs(m.variance - 1 / 64 / 3) < 0.0005, `${be.name} kaiming variance ${m.variance}`);
      const u = moments(await uniform([1000], 3, 5, 1).data());
      assert.ok(u.min >= 3 && u.max < 5);
      const nz = moments(await normal([20000], 0.02, 2, { mean: 1 }).data());
      assert.ok(Math.abs(nz.mean - 1) < 0.001 && Math.abs(Math.sqrt(nz.variance) - 0.02) < 0.001, `${be.name} normal ${nz.mean} ${nz.variance}`);
      assert.deepEqual([...(await zeros([3, 2]).data())], [0, 0, 0, 0, 0, 0]);
      w.dispose();
    });
  }
  // Same seed → the same weights on both backends: the same draws, and lo + span·u rounded alike
  // except where a GPU compiler fuses the multiply-add into one fma (NVIDIA does).
  const wg = withBackend(g, () => kaimingUniform([32, 8], undefined, 77));
  const wc = withBackend(cpu, () => kaimingUniform([32, 8], undefined, 77));
  const [dg, dc] = [await wg.data(), await wc.data()];
  assert.equal(dg.length, dc.length);
  // The product span·u (span = 2·bound) is rounded once less when fused: within half its ULP.
  const span = 2 * kaimingUniformBound(8);
  for (let i = 0; i < dc.length; i++) assert.ok(Math.abs(dg[i]! - dc[i]!) <= span * 2 ** -23, `kaiming [${i}]: GPU ${dg[i]} vs CPU ${dc[i]}`);
});
