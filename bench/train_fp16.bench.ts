/**
 * LoRA training throughput and device memory, fp16 mixed precision (autocast + loss scaling) against
 * pure float32, side by side. For each config the two variants alternate (f32, fp16, f32, fp16, ...
 * RADGRAD_BENCH_REPEATS rounds, default 2) so a contended CPU slows both alike; each round builds a
 * fresh model and runs the real Trainer (LoRA r 8 on q/v, f32 base, dropout 0.1, batch × T tokens
 * per step with no padding, gradient accumulation 1) for RADGRAD_BENCH_STEPS steps (default 4).
 * tokens/s is the median over steps 2.. (step 1 compiles pipelines); peak_mb is the buffer pool's
 * peakBytesInUse during run() and act_mb the part above what was held before it (model weights),
 * i.e. activations, gradients and optimizer state.
 * Configs (RADGRAD_BENCH_FP16 = comma list, default tiny,h512): tiny = the golden tiny BioGPT
 * (hidden 64, 2 layers, vocab 512); h512 = hidden 512, 4 layers, 8 heads, FFN 2048, vocab 8192;
 * h1024 = hidden 1024, 2 layers, 16 heads, FFN 4096, vocab 8192 (BioGPT's layer shape); biogpt =
 * microsoft/biogpt's shapes (24 layers, vocab 42384), batch 4 × 512 as the PyTorch H100 anchor (GPU only).
 * RADGRAD_BENCH_PROFILE=1 adds, per config, the kernels with the most GPU time per step (one more
 * f32 run with every launch timed on its own; RADGRAD_BENCH_PROFILE_TOP rows, default 25).
 * RADGRAD_BENCH_SHAPE=BxT (e.g. 1x128) overrides every config's batch × tokens: activation memory
 * scales with them, so the full-width biogpt config can be measured on lavapipe at a small T.
 * RADGRAD_BENCH_KEEP=1 adds, per round, the f32 and fp16 runs with early activation release, the
 * attention-score recompute and the loss's in-place gradient off (the previous behaviour: every
 * activation kept to the step's end), side by side: f32_keep_peak_mb, fp16_keep_peak_mb (and
 * _act_mb, _tok_s).
 * On an adapter without 'shader-f16' (NVIDIA under Dawn without RADGRAD_UNSAFE_GPU_FEATURES=1) only
 * the f32 runs happen: their columns are filled, the fp16 ones are '–'.
 * Run: npm run bench -- train_fp16
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gpu } from '../src/gpu/device.js';
import type { TimingResult } from '../src/gpu/queue.js';
import '../src/ops/index.js';
import { BioGptForCausalLM } from '../src/models/biogpt/index.js';
import { biogptConfig } from '../src/models/biogpt/config.js';
import { Trainer } from '../src/train/trainer.js';
import { releaseTuning } from '../src/autograd/release.js';
import { crossEntropyTuning } from '../src/ops/nn/cross_entropy.js';
import { Rng } from '../src/data/rng.js';
import type { Example } from '../src/data/dataset.js';
import { sharedPath } from '../src/util/paths.js';

type Row = Record<string, string | number>;

interface BenchConfig {
  name: string;
  model: () => BioGptForCausalLM;
  batch: number;
  T: number;
  vocab: number;
}

const MB = 1024 * 1024;

function random(fields: Record<string, number>): () => BioGptForCausalLM {
  return () => new BioGptForCausalLM(biogptConfig({ max_position_embeddings: 1024, ...fields }));
}

const CONFIGS: Record<string, BenchConfig> = {
  tiny: { name: 'tiny (h64 L2 V512)', model: () => BioGptForCausalLM.fromPretrained(sharedPath('golden', 'tiny_biogpt')!), batch: 4, T: 62, vocab: 512 },
  h512: { name: 'h512 L4 V8192', model: random({ vocab_size: 8192, hidden_size: 512, num_hidden_layers: 4, num_attention_heads: 8, intermediate_size: 2048 }), batch: 2, T: 128, vocab: 8192 },
  h1024: { name: 'h1024 L2 V8192', model: random({ vocab_size: 8192, hidden_size: 1024, num_hidden_layers: 2, num_attention_heads: 16, intermediate_size: 4096 }), batch: 1, T: 256, vocab: 8192 },
  // microsoft/biogpt's shapes with random weights, batch 4 × 512 tokens as the PyTorch H100 anchor
  // (../shared/golden/pytorch_h100_anchors.json: 22,188 tokens/s f32, 32,667 with f16 autocast).
  biogpt: { name: 'BioGPT h1024 L24 V42384', model: random({ vocab_size: 42384, hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 }), batch: 4, T: 512, vocab: 42384 },
};

function examples(n: number, T: number, vocab: number, seed: number): Example[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `ex${i}`,
    inputIds: Int32Array.from({ length: T }, (_, t) => (t === 0 ? 0 : 4 + r.int(vocab - 4))),
    promptLength: 4,
    truncated: false,
  }));
}

async function once(c: BenchConfig, fp16: boolean, steps: number, out: string, profile = false, keep = false): Promise<{ tps: number; peak: number; act: number; skipped: number; timing?: TimingResult }> {
  const model = c.model();
  const block = crossEntropyTuning.overwriteBlockBytes;
  releaseTuning.enabled = !keep;
  model.attentionRecomputeEnable(!keep);
  if (keep) crossEntropyTuning.overwriteBlockBytes = Infinity; // one block: the plain loss backward
  try {
    const train = examples(c.batch * steps, c.T, c.vocab, 1);
    const t = new Trainer({
      model, train, outDir: out, progress: null, report: false, f16Available: gpu().caps.f16,
      settings: { batchSize: c.batch, gradAccum: 1, maxSteps: steps, evalEvery: 0, saveEvery: 0, maxLength: c.T, fp16, seed: 3 },
    });
    const pool = gpu().pool;
    const held = pool.getStats().bytesInUse;
    pool.resetPeak();
    if (profile) gpu().queue.beginTiming();
    const r = await t.run();
    const timing = profile ? await gpu().queue.endTiming() : undefined;
    const peak = pool.getStats().peakBytesInUse;
    // Median over steps 2.. (step 1 compiles pipelines): robust to a step slowed by other CPU load.
    const later = r.metrics.slice(1).map((m) => m.tokensPerSec!).sort((a, b) => a - b);
    const tps = later.length ? (later[(later.length - 1) >> 1]! + later[later.length >> 1]!) / 2 : 0;
    return { tps, peak, act: peak - held, skipped: t.scaler.skipped, ...(timing ? { timing } : {}) };
  } finally {
    releaseTuning.enabled = true;
    crossEntropyTuning.overwriteBlockBytes = block;
    model.dispose();
  }
}

/** RADGRAD_BENCH_SHAPE=BxT: the config with that batch and token count. */
function shaped(c: BenchConfig): BenchConfig {
  const v = process.env.RADGRAD_BENCH_SHAPE;
  if (!v) return c;
  const m = /^(\d+)x(\d+)$/.exec(v.trim());
  if (!m) throw new Error(`RADGRAD_BENCH_SHAPE must be BxT (e.g. 1x128), got '${v}'`);
  return { ...c, batch: Number(m[1]), T: Number(m[2]) };
}

export async function bench(): Promise<Row[]> {
  const names = (process.env.RADGRAD_BENCH_FP16 ?? 'tiny,h512').split(',').map((s) => s.trim()).filter(Boolean);
  const repeats = Number(process.env.RADGRAD_BENCH_REPEATS ?? 2);
  const steps = Number(process.env.RADGRAD_BENCH_STEPS ?? 4);
  // Without shader-f16 the fp16 runs would be float32: only the f32 variant runs, its columns filled.
  const f16 = gpu().caps.f16;
  const none = '–';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-fp16-bench-'));
  const rows: Row[] = [];
  try {
    for (const n of names) {
      if (!CONFIGS[n]) throw new Error(`unknown config '${n}' (${Object.keys(CONFIGS).join(', ')})`);
      const c = shaped(CONFIGS[n]!);
      const keep = process.env.RADGRAD_BENCH_KEEP === '1';
      for (let k = 0; k < repeats; k++) {
        const f = await once(c, false, steps, path.join(tmp, `${n}-${k}-f32`));
        const h = f16 ? await once(c, true, steps, path.join(tmp, `${n}-${k}-fp16`)) : null;
        const fk = keep ? await once(c, false, steps, path.join(tmp, `${n}-${k}-f32-keep`), false, true) : null;
        const hk = keep && f16 ? await once(c, true, steps, path.join(tmp, `${n}-${k}-fp16-keep`), false, true) : null;
        rows.push({
          config: c.name, shape: `${c.batch}x${c.T}`, tokens: c.batch * c.T, round: k + 1,
          f32_tok_s: f.tps, fp16_tok_s: h ? h.tps : none, fp16_speedup_vs_f32: h ? h.tps / f.tps : none,
          f32_peak_mb: f.peak / MB, fp16_peak_mb: h ? h.peak / MB : none,
          f32_act_mb: f.act / MB, fp16_act_mb: h ? h.act / MB : none, fp16_act_over_f32: h ? h.act / f.act : none, fp16_skipped: h ? h.skipped : none,
          ...(fk ? {
            f32_keep_peak_mb: fk.peak / MB, fp16_keep_peak_mb: hk ? hk.peak / MB : none, f32_keep_act_mb: fk.act / MB, fp16_keep_act_mb: hk ? hk.act / MB : none,
            f32_keep_tok_s: fk.tps, fp16_keep_tok_s: hk ? hk.tps : none,
          } : {}),
          ...(f16 ? {} : { note: "adapter lacks 'shader-f16': f32 only" }),
        });
      }
    }
    if (process.env.RADGRAD_BENCH_PROFILE === '1') for (const n of names) rows.push(...(await profileRows(shaped(CONFIGS[n]!), steps, path.join(tmp, `${n}-profile`))));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}

/**
 * RADGRAD_BENCH_PROFILE=1: one more f32 run with every launch timed on its own (GPU timestamps, so
 * slower than the rows above), and the kernels that take the most GPU time per step.
 */
async function profileRows(c: BenchConfig, steps: number, out: string): Promise<Row[]> {
  const r = await once(c, false, steps, out, true);
  const t = r.timing!;
  if (!t.perKernel) return [{ config: c.name, note: `no timestamps (${t.source} ${t.ms.toFixed(1)} ms)` }];
  const total = t.ms;
  const kernels = Object.entries(t.perKernel).sort((a, b) => b[1].ms - a[1].ms);
  const rows: Row[] = [{ config: c.name, kernel: `all ${kernels.length} kernels`, gpu_ms_per_step: total / steps, share: 1, launches_per_step: t.dispatches / steps }];
  for (const [k, e] of kernels.slice(0, Number(process.env.RADGRAD_BENCH_PROFILE_TOP ?? 25))) {
    rows.push({ config: c.name, kernel: k, gpu_ms_per_step: e.ms / steps, share: e.ms / total, launches_per_step: e.n / steps });
  }
  return rows;
}
