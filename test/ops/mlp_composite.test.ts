/**
 * The composite check: a two-layer MLP (8 → 32 → 1, GELU) trained with AdamW (weight decay on the
 * weights only, global-norm clipping) on a small regression task runs step by step the same on
 * the WebGPU backend and on the float64 CPU reference, its loss goes down, and 200
 * forward/backward/step iterations under tidy() leave GPU memory flat.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import { shutdownGpu } from '../../src/gpu/device.js';
import type { Backend } from '../../src/backend/types.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tidy } from '../../src/tensor/scope.js';
import { backward } from '../../src/autograd/tape.js';
import { add, gelu, matmul, mean, square, sub, tensor } from '../../src/ops/index.js';
import { AdamW, clipGradNorm } from '../../src/ops/optim.js';
import { kaimingUniform, uniform } from '../../src/nn/init.js';
import { Rng } from '../../src/data/rng.js';

after(() => shutdownGpu());

const N = 64;
const IN = 8;
const HID = 32;

/** y = sin(x·a) + 0.5 x₀x₁ on f32-rounded inputs (identical host data for both backends). */
function dataset(seed: number): { x: Float64Array; y: Float64Array } {
  const r = new Rng(seed);
  const a = Array.from({ length: IN }, () => r.next() - 0.5);
  const x = new Float64Array(N * IN);
  const y = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let dot = 0;
    for (let j = 0; j < IN; j++) {
      const v = Math.fround(2 * r.next() - 1);
      x[i * IN + j] = v;
      dot += v * a[j]!;
    }
    y[i] = Math.fround(Math.sin(2 * dot) + 0.5 * x[i * IN]! * x[i * IN + 1]!);
  }
  return { x, y };
}

interface Mlp {
  params: Tensor[];
  w1: Tensor;
  b1: Tensor;
  w2: Tensor;
  b2: Tensor;
}

/** nn.Linear initialisation (weights stored [in, out], so fan_in is given explicitly). */
function makeMlp(seed: number): Mlp {
  const w1 = kaimingUniform([IN, HID], Math.sqrt(5), seed, { fanIn: IN, requiresGrad: true });
  const b1 = uniform([HID], -1 / Math.sqrt(IN), 1 / Math.sqrt(IN), seed + 1, { requiresGrad: true });
  const w2 = kaimingUniform([HID, 1], Math.sqrt(5), seed + 2, { fanIn: HID, requiresGrad: true });
  const b2 = uniform([1], -1 / Math.sqrt(HID), 1 / Math.sqrt(HID), seed + 3, { requiresGrad: true });
  return { params: [w1, b1, w2, b2], w1, b1, w2, b2 };
}

function lossOf(m: Mlp, x: Tensor, y: Tensor): Tensor {
  const h = gelu(add(matmul(x, m.w1), m.b1));
  const out = add(matmul(h, m.w2), m.b2);
  return mean(square(sub(out, y)));
}

/** Trains `steps` steps on backend `be`; returns per-step losses, gradient norms and final params. */
async function train(be: Backend, steps: number, onStep?: (step: number) => void): Promise<{ losses: number[]; norms: number[]; params: Float64Array[] }> {
  return withBackend(be, async () => {
    const { x: xd, y: yd } = dataset(3);
    const x = tensor(xd, [N, IN]);
    const y = tensor(yd, [N, 1]);
    const m = makeMlp(11);
    const opt = new AdamW(m.params, { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, paramGroups: [{ params: [m.b1, m.b2], weightDecay: 0 }] });
    const losses: number[] = [];
    const norms: number[] = [];
    for (let s = 1; s <= steps; s++) {
      const loss = tidy(() => {
        const l = lossOf(m, x, y);
        backward(l);
        return l;
      });
      losses.push(await loss.item());
      loss.dispose();
      norms.push(await clipGradNorm(m.params, 1.0));
      tidy(() => {
        opt.step();
        opt.zeroGrad();
      });
      onStep?.(s);
    }
    const params = await Promise.all(m.params.map(async (p) => Float64Array.from(await p.dataRaw())));
    opt.dispose();
    for (const t of [x, y, ...m.params]) t.dispose();
    return { losses, norms, params };
  });
}

test('MLP + AdamW: WebGPU matches the CPU reference step by step over 50 steps, and the loss falls', async () => {
  const gpu = await initWebGpuBackend();
  const steps = 50;
  const g = await train(gpu, steps);
  const c = await train(cpuBackend(), steps);
  let maxRel = 0;
  let maxNormRel = 0;
  for (let s = 0; s < steps; s++) {
    const rel = Math.abs(g.losses[s]! - c.losses[s]!) / c.losses[s]!;
    maxRel = Math.max(maxRel, rel);
    maxNormRel = Math.max(maxNormRel, Math.abs(g.norms[s]! - c.norms[s]!) / c.norms[s]!);
    // f32 kernels (erf-approximated GELU, f32 accumulation) vs float64: measured ~1e-6 on lavapipe.
    assert.ok(rel < 1e-4, `step ${s + 1}: GPU loss ${g.losses[s]} vs CPU ${c.losses[s]} (rel ${rel.toExponential(2)})`);
  }
  let maxParam = 0;
  g.params.forEach((p, i) => p.forEach((v, j) => (maxParam = Math.max(maxParam, Math.abs(v - c.params[i]![j]!)))));
  assert.ok(maxParam < 1e-4, `final parameters differ by up to ${maxParam}`);
  console.log(
    `MLP 8→32→1, ${steps} AdamW steps: loss ${c.losses[0]!.toFixed(4)} → ${c.losses[steps - 1]!.toFixed(4)} (CPU); ` +
      `max rel loss diff GPU vs CPU ${maxRel.toExponential(2)}, grad norm ${maxNormRel.toExponential(2)}, max abs param diff ${maxParam.toExponential(2)}`,
  );
  assert.ok(g.losses[steps - 1]! < 0.5 * g.losses[0]!, `loss fell only from ${g.losses[0]} to ${g.losses[steps - 1]}`);
  for (let s = 10; s < steps; s += 10) assert.ok(g.losses[s]! < g.losses[s - 10]!, `loss did not fall between steps ${s - 9} and ${s + 1}`);
});

test('200 forward/backward/AdamW iterations keep GPU bytes in use flat', async () => {
  const gpu = await initWebGpuBackend();
  const before = gpu.bytesInUse();
  const at: Record<number, number> = {};
  const { losses } = await train(gpu, 200, (s) => {
    if (s === 10 || s === 100 || s === 200) at[s] = gpu.bytesInUse();
  });
  await gpu.sync();
  console.log(`GPU bytes in use: before ${before}, step 10 ${at[10]}, step 100 ${at[100]}, step 200 ${at[200]}, after ${gpu.bytesInUse()}; final loss ${losses[199]!.toFixed(5)}`);
  assert.equal(at[200], at[10], `bytes in use grew from ${at[10]} (step 10) to ${at[200]} (step 200)`);
  assert.equal(at[100], at[10]);
  assert.equal(gpu.bytesInUse(), before, 'everything released after disposing the model and optimizer');
  assert.ok(losses[199]! < losses[49]!);
});
