/**
 * fp16 mixed precision on the tiny golden BioGPT (WebGPU with shader-f16): the autocast forward is
 * within f16 tolerance of the f32 one and its activations are f16 / f32 where torch.autocast puts
 * them; a real f16 gradient overflow (provoked with a huge initial loss scale) skips the step,
 * halves the scale and leaves the master weights untouched; scaled f16 LoRA gradients match the f32
 * ones; a short fp16 run tracks the f32 loss curve and gradient norms; no NaN reaches the master
 * weights after overflows; --no-fp16 is pure float32.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gpu, shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import '../../src/ops/index.js';
import { backward, noGrad, zeroGrad } from '../../src/autograd/tape.js';
import { autocast } from '../../src/autograd/autocast.js';
import { tidy } from '../../src/tensor/scope.js';
import { gelu, mul } from '../../src/ops/elementwise.js';
import { loadAdapter } from '../../src/nn/lora.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { Rng } from '../../src/data/rng.js';
import type { Example } from '../../src/data/dataset.js';
import { PRECISION_F32, PRECISION_MIXED, Trainer, type TrainResult, type TrainSettings } from '../../src/train/trainer.js';
import type { LossScalerOptions } from '../../src/train/loss_scale.js';
import { sharedPath } from '../../src/util/paths.js';
import { maxRelErr } from '../helpers/compare.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const loraInit = sharedPath('golden', 'tiny_lora_init');
const SKIP = modelDir ? false : 'shared/golden/tiny_biogpt is absent';

function examples(n: number, seed: number): Example[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const len = 8 + Math.floor(r.next() * 14);
    const pat = [10 + r.int(4) * 4, 11, 12, 13];
    const ids = Int32Array.from({ length: len }, (_, t) => (t === 0 ? 2 : pat[t % 4]! + (t % 4 ? pat[0]! - 10 : 0)));
    return { id: `ex${i}`, inputIds: ids, promptLength: 3 + Math.floor(r.next() * 3), truncated: false };
  });
}

let be: Backend;
let f16 = false;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-fp16-'));
before(async () => {
  if (SKIP) return;
  be = await initWebGpuBackend();
  f16 = gpu().caps.f16;
});
after(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await shutdownGpu();
});

const base: Partial<TrainSettings> = { batchSize: 2, gradAccum: 2, maxSteps: 6, evalEvery: 0, saveEvery: 0, seed: 7, loraDropout: 0.1, lr: 1e-3 };
const trainSet = examples(20, 1);

interface Run {
  result: TrainResult;
  before: Float32Array[];
  after: Float32Array[];
  skipped: number;
  scale: number;
}

async function run(out: string, settings: Partial<TrainSettings>, lossScaler?: Omit<LossScalerOptions, 'enabled'>): Promise<Run> {
  return withBackend(be, async () => {
    const model = BioGptForCausalLM.fromPretrained(modelDir!);
    try {
      const t = new Trainer({ model, train: trainSet, outDir: out, settings, f16Available: f16, progress: null, report: true, ...(lossScaler ? { lossScaler } : {}) });
      const snap = async () => Promise.all(t.optimizer.params.map(async (p) => Float32Array.from(await p.data())));
      const before = await snap();
      const result = await t.run();
      return { result, before, after: await snap(), skipped: t.scaler.skipped, scale: t.scaler.scale };
    } finally {
      model.dispose();
    }
  });
}

const allFinite = (xs: Float32Array[]) => xs.every((x) => x.every((v) => Number.isFinite(v)));

describe('fp16 mixed precision (tiny BioGPT, WebGPU)', { skip: SKIP }, () => {
  it('scaled f16 LoRA gradients (tiny_lora_init, non-zero B) match f32 ones after unscaling', async (t) => {
    if (!f16) return t.skip("adapter lacks 'shader-f16'");
    if (!loraInit) return t.skip('shared/golden/tiny_lora_init is absent');
    await withBackend(be, async () => {
      const model = BioGptForCausalLM.fromPretrained(modelDir!);
      try {
        loadAdapter(model, loraInit);
        model.train(true);
        const params = model.namedParameters().filter(([, p]) => p.requiresGrad);
        const B = 2;
        const T = 24;
        const ids = { data: Int32Array.from({ length: B * T }, (_, i) => 3 + ((i * 53) % 500)), shape: [B, T] as [number, number] };
        const grads = async (mixed: boolean) => {
          const scale = mixed ? 65536 : 1;
          tidy(() => {
            const l = mixed ? autocast('f16', () => model.forward({ inputIds: ids, labels: ids }).loss!) : model.forward({ inputIds: ids, labels: ids }).loss!;
            backward(mul(l, scale));
          });
          const out = await Promise.all(params.map(async ([, p]) => {
            assert.equal(p.grad!.dtype, 'f32', 'master gradients are f32');
            return Float32Array.from(await p.grad!.data(), (v) => v / scale);
          }));
          zeroGrad(params.map(([, p]) => p));
          return out;
        };
        const g16 = await grads(true);
        const g32 = await grads(false);
        const worst = Math.max(...g16.map((g, i) => maxRelErr(g, g32[i]!)));
        console.log(`LoRA gradients (${params.length} tensors), autocast + scale 65536 vs f32: max rel ${worst.toExponential(2)}`);
        // f16 activations and their f16 gradients (2^-11 steps) through two layers.
        assert.ok(worst <= 1e-2, `gradient rel ${worst}`);
      } finally {
        model.dispose();
      }
    });
  });

  it('autocast forward is within f16 tolerance of f32; activations are f16/f32 where autocast puts them', async (t) => {
    if (!f16) return t.skip("adapter lacks 'shader-f16'");
    await withBackend(be, async () => {
      const model = BioGptForCausalLM.fromPretrained(modelDir!);
      try {
        const B = 2;
        const T = 24;
        const ids = { data: Int32Array.from({ length: B * T }, (_, i) => 3 + ((i * 37) % 500)), shape: [B, T] as [number, number] };
        const mask = { data: Int32Array.from({ length: B * T }, (_, i) => (i >= T && i % T >= T - 5 ? 0 : 1)), shape: [B, T] as [number, number] };
        const want = noGrad(() => model.forward({ inputIds: ids, attentionMask: mask, labels: ids }));
        const got = noGrad(() => autocast('f16', () => model.forward({ inputIds: ids, attentionMask: mask, labels: ids })));
        assert.equal(want.logits.dtype, 'f32');
        assert.equal(got.logits.dtype, 'f16', 'the LM head is a matmul: f16 logits');
        assert.equal(got.loss!.dtype, 'f32', 'cross-entropy runs in f32');
        const r = maxRelErr(await got.logits.data(), await want.logits.data());
        const lw = await want.loss!.item();
        const dl = Math.abs((await got.loss!.item()) - lw) / lw;
        console.log(`tiny BioGPT autocast logits rel ${r.toExponential(2)} (max|Δ|/max|f32|), loss rel ${dl.toExponential(2)}`);
        // f16 has a 2^-11 relative step; with f32 accumulation the logits stay within a few steps.
        assert.ok(r <= 3e-3, `logits rel ${r}`);
        assert.ok(dl <= 1e-3, `loss rel ${dl}`);
        for (const o of [want, got]) {
          o.logits.dispose();
          o.loss!.dispose();
        }

        // Activation dtypes with a graph (training): residual stream, norms and loss f32; projections f16.
        tidy(() => autocast('f16', () => {
          const out = model.forward({ inputIds: ids, attentionMask: mask, labels: ids, outputHiddenStates: true });
          for (const h of out.hiddenStates!) assert.equal(h.dtype, 'f32', 'hidden states (residual stream)');
          assert.equal(out.logits.dtype, 'f16');
          assert.equal(out.loss!.dtype, 'f32');
          const layer = model.biogpt.layers.at(0);
          const x = layer.self_attn_layer_norm.forward(out.hiddenStates![0]!);
          assert.equal(x.dtype, 'f32', 'layer norm output');
          assert.equal(layer.self_attn.q_proj.forward(x).dtype, 'f16', 'q_proj');
          assert.equal(layer.self_attn.forward(x, null).out.dtype, 'f16', 'attention output (out_proj)');
          const f = layer.fc1.forward(x);
          assert.equal(f.dtype, 'f16', 'fc1');
          assert.equal(layer.fc2.forward(gelu(f)).dtype, 'f16', 'fc2');
          assert.equal(layer.forward(out.hiddenStates![0]!, null).hidden.dtype, 'f32', 'decoder layer output (f32 residual + f16 branch)');
        }));
      } finally {
        model.dispose();
      }
    });
  });

  it('a real f16 overflow skips the step, halves the scale and leaves the master weights unchanged', async (t) => {
    if (!f16) return t.skip("adapter lacks 'shader-f16'");
    // 2^40 · dloss overflows f16 (max 65504) in the logits' gradient; in f32 it would be finite.
    const r = await run(path.join(tmp, 'overflow'), { ...base, maxSteps: 2, loraDropout: 0 }, { initScale: 2 ** 40 });
    assert.equal(r.skipped, 2);
    assert.deepEqual(r.result.metrics.map((m) => m.lossScale), [2 ** 39, 2 ** 38]);
    assert.ok(r.result.metrics.every((m) => !Number.isFinite(m.gradNorm!)), 'non-finite gradient norm reported');
    assert.ok(r.result.metrics.every((m) => Number.isFinite(m.loss!)), 'the loss itself stays finite (f32)');
    r.before.forEach((w, i) => assert.deepEqual(r.after[i], w, `parameter ${i} changed by a skipped step`));
    // Control: the default scale does not overflow, so the same steps are taken.
    const ok = await run(path.join(tmp, 'no-overflow'), { ...base, maxSteps: 2, loraDropout: 0 });
    assert.equal(ok.skipped, 0);
    assert.ok(ok.before.some((w, i) => maxRelErr(ok.after[i]!, w) > 0), 'weights updated');
  });

  it('fp16 tracks the f32 loss curve; overflows followed by good steps leave no NaN in the master weights', async (t) => {
    if (!f16) return t.skip("adapter lacks 'shader-f16'");
    const mixed = await run(path.join(tmp, 'mixed'), base);
    const f32 = await run(path.join(tmp, 'f32'), { ...base, fp16: false });
    assert.equal(mixed.result.precision, PRECISION_MIXED);
    assert.equal(f32.result.precision, PRECISION_F32);
    assert.ok(!f32.result.lossScaling && mixed.result.lossScaling);
    const lm = mixed.result.metrics.map((m) => m.loss!);
    const lf = f32.result.metrics.map((m) => m.loss!);
    const d = Math.max(...lm.map((v, i) => Math.abs(v - lf[i]!) / lf[i]!));
    console.log(`losses fp16 ${lm.map((v) => v.toFixed(5)).join(' ')}\nlosses f32  ${lf.map((v) => v.toFixed(5)).join(' ')}\nmax rel Δ ${d.toExponential(2)}`);
    assert.equal(mixed.skipped, 0);
    assert.ok(d <= 5e-3, `fp16 loss curve departs from f32 by ${d}`);
    assert.ok(lm[5]! < lm[0]!, 'loss falls');
    // Gradient norms agree closely. (The weights after Adam steps are not compared element-wise:
    // Adam maps a component whose gradient is near zero to ±lr whatever its size, so f16 noise on
    // such components flips whole updates; the gradients themselves are compared in the next test.)
    const gm = mixed.result.metrics.map((m) => m.gradNorm!);
    const gf = f32.result.metrics.map((m) => m.gradNorm!);
    const dg = Math.max(...gm.map((v, i) => Math.abs(v - gf[i]!) / gf[i]!));
    console.log(`pre-clip grad norms: max rel Δ fp16 vs f32 ${dg.toExponential(2)}`);
    assert.ok(dg <= 2e-3, `grad norm rel ${dg}`);
    assert.ok(allFinite(mixed.after));
    // The console/metrics/report name the precision.
    const line = JSON.parse(fs.readFileSync(path.join(tmp, 'mixed', 'metrics.jsonl'), 'utf8').split('\n')[0]!) as { precision: string };
    assert.equal(line.precision, PRECISION_MIXED);
    assert.ok(fs.readFileSync(path.join(tmp, 'mixed', 'report.html'), 'utf8').includes(PRECISION_MIXED));

    // 2^28 overflows for a few steps, then the halved scale fits: the run recovers with finite weights.
    const rec = await run(path.join(tmp, 'recover'), { ...base, maxSteps: 10 }, { initScale: 2 ** 28 });
    const applied = rec.result.metrics.filter((m) => Number.isFinite(m.gradNorm!)).length;
    console.log(`init scale 2^28: ${rec.skipped} skipped, ${applied} applied, final scale 2^${Math.log2(rec.scale)}`);
    assert.ok(rec.skipped >= 1 && applied >= 1, `skipped ${rec.skipped}, applied ${applied}`);
    assert.equal(rec.scale, 2 ** (28 - rec.skipped));
    assert.ok(allFinite(rec.after), 'NaN/inf leaked into the master weights');
    assert.ok(rec.before.some((w, i) => maxRelErr(rec.after[i]!, w) > 0), 'applied steps changed the weights');
  });
});
