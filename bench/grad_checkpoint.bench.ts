/**
 * Gradient checkpointing: peak GPU bytes and step time of one LoRA training step (forward +
 * backward, no optimizer) on a randomly initialised BioGPT-architecture model, with and without
 * recomputing each decoder layer in backward. LoRA r 8 / alpha 16 / dropout 0.1 on q_proj,v_proj,
 * model dropouts 0.1, float32 base. Sizes from the environment (defaults in brackets):
 *   RADGRAD_GC_HIDDEN [1024], RADGRAD_GC_LAYERS [4], RADGRAD_GC_HEADS [16], RADGRAD_GC_BATCH [4],
 *   RADGRAD_GC_T [256], RADGRAD_GC_VOCAB [1024] (small: the head's logits are not what is measured),
 *   RADGRAD_GC_REPS [1] (plain/checkpointed pairs, alternating).
 * Dropout is reseeded before each step, so both variants draw the same masks and print the same loss.
 * Pipelines are compiled first by a 1×8 step of each variant, so neither timed step pays for it.
 * Peak = pool peakBytesInUse during the step minus the bytes in use before it (weights excluded).
 * Run: npm run bench -- grad_checkpoint
 */
import { gpu } from '../src/gpu/device.js';
import '../src/ops/index.js';
import { backward } from '../src/autograd/tape.js';
import { tidy } from '../src/tensor/scope.js';
import { BioGptForCausalLM, biogptConfig } from '../src/models/biogpt/index.js';
import { manualSeed } from '../src/nn/module.js';
import { applyLora } from '../src/nn/lora.js';
import { reseedDropout } from '../src/nn/dropout.js';

type Row = Record<string, string | number>;

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);

export async function bench(): Promise<Row[]> {
  const C = env('RADGRAD_GC_HIDDEN', 1024);
  const L = env('RADGRAD_GC_LAYERS', 4);
  const H = env('RADGRAD_GC_HEADS', 16);
  const B = env('RADGRAD_GC_BATCH', 4);
  const T = env('RADGRAD_GC_T', 256);
  const V = env('RADGRAD_GC_VOCAB', 1024);
  const reps = env('RADGRAD_GC_REPS', 1);
  manualSeed(3);
  const model = new BioGptForCausalLM(
    biogptConfig({
      model_type: 'biogpt', vocab_size: V, hidden_size: C, num_hidden_layers: L, num_attention_heads: H, intermediate_size: 4 * C,
      max_position_embeddings: Math.max(1024, T), hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
      activation_dropout: 0.0, layerdrop: 0.0, initializer_range: 0.02, scale_embedding: true, tie_word_embeddings: true,
      bos_token_id: 0, pad_token_id: 1, eos_token_id: 2,
    }),
  );
  applyLora(model, { r: 8, alpha: 16, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], bias: 'none' }, 42);
  model.train(true);
  const pool = gpu().pool;
  const step = async (ck: boolean, b: number, t: number): Promise<{ ms: number; peak: number; loss: number }> => {
    model.gradientCheckpointingEnable(ck);
    reseedDropout(model, 11); // same masks in both variants, so the losses must agree
    const ids = Int32Array.from({ length: b * t }, (_, i) => 3 + ((i * 7919) % (V - 3)));
    const shape = [b, t] as [number, number];
    const t0 = performance.now();
    pool.resetPeak();
    const before = pool.getStats().bytesInUse;
    const loss = tidy(() => {
      const l = model.forward({ inputIds: { data: ids, shape }, labels: { data: ids, shape } }).loss!;
      backward(l);
      return l;
    });
    const lv = await loss.item();
    const peak = pool.getStats().peakBytesInUse - before;
    loss.dispose();
    for (const p of model.trainableParameters()) await p.grad?.dataRaw(); // gradients finished
    const ms = performance.now() - t0;
    for (const p of model.trainableParameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
    return { ms, peak, loss: lv };
  };
  await step(false, 1, 8);
  await step(true, 1, 8);
  const rows: Row[] = [];
  const shapeTag = `hidden ${C}, ${L} layers, ${H} heads, B ${B} × T ${T}, vocab ${V}`;
  let plainRef: { ms: number; peak: number } | undefined;
  for (let r = 0; r < reps; r++) {
    for (const ck of [false, true]) {
      const s = await step(ck, B, T);
      if (!ck) plainRef = s;
      rows.push({
        config: shapeTag, variant: ck ? 'checkpointed' : 'plain', rep: r + 1,
        peak_MiB: s.peak / 2 ** 20, step_s: s.ms / 1000, loss: s.loss,
        peak_over_plain: plainRef ? s.peak / plainRef.peak : 1, time_over_plain: plainRef ? s.ms / plainRef.ms : 1,
      });
      console.error(`# ${rows[rows.length - 1]!.variant}: peak ${(s.peak / 2 ** 20).toFixed(1)} MiB, ${(s.ms / 1000).toFixed(1)} s, loss ${s.loss}`);
    }
  }
  model.dispose();
  return rows;
}
