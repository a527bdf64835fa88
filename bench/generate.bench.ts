/**
 * Decoding speed of generate() (greedy, KV cache) at batch 1 and 8. Models:
 *   tiny - the golden tiny BioGPT (../shared/golden/tiny_biogpt; the row is skipped when absent);
 *   mid  - a random BioGPT-architecture model (hidden 512, 4 layers, 8 heads, FFN 2048, BioGPT's
 *          42,384-token vocabulary), small enough for lavapipe;
 *   biogpt - microsoft/biogpt's shapes (1024 × 24 layers, the full 42,384-token vocabulary),
 *          random weights; its 174 MB embedding table exceeds lavapipe's 128 MiB binding limit
 *          and runs through the chunked kernels (tied head included);
 *   biogpt-int8, mid-int8 - the same with the decoder projections quantised to int8 (as `--int8`).
 * RADGRAD_BENCH_GEN_MODELS picks them (comma-separated; default tiny,mid), RADGRAD_BENCH_GEN_NEW
 * the new tokens per row (default 32). RADGRAD_BENCH_GEN_INT8_SKINNY=both times every case with
 * the skinny int8 decode kernel (int8SkinnyTuning 'auto') and without it (forced off), the two
 * alternating in each repetition (on / off: only that one). Each case runs once per setting as a
 * warm-up (pipelines compiled, buffers pooled), then the best of RADGRAD_BENCH_REPS (default 2)
 * timed runs is reported.
 * RADGRAD_BENCH_GEN_PIPELINE=both times batch 1 pipelined (device ids feed the next step, the
 * default) and step by step (pipelineTuning), alternating. No eos ids are given (eosTokenId []),
 * so no row stops early and every step is plain greedy. tokens/s counts the tokens of all
 * rows made by decode steps over the decode time (prefill excluded, as GenerationStats does).
 * Run: npm run bench -- generate
 */
import { BioGptForCausalLM, biogptConfig } from '../src/models/biogpt/index.js';
import { BIOGPT_SIZES } from '../src/models/biogpt/config.js';
import { manualSeed } from '../src/nn/module.js';
import { quantizeInt8 } from '../src/models/biogpt/quantize.js';
import { generate } from '../src/generate/index.js';
import { pipelineTuning } from '../src/generate/generate.js';
import { sharedPath } from '../src/util/paths.js';
import '../src/ops/index.js';
import { int8SkinnyTuning } from '../src/backend/webgpu/int8.js';

type Row = Record<string, string | number>;

const PROMPT_LEN = 8;

function randomModel(shape: { vocab_size: number; hidden_size: number; num_hidden_layers: number; num_attention_heads: number; intermediate_size: number; max_position_embeddings: number }): BioGptForCausalLM {
  manualSeed(1234);
  return new BioGptForCausalLM(
    biogptConfig({
      architectures: ['BioGptForCausalLM'], ...shape, hidden_act: 'gelu', hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, activation_dropout: 0,
      layerdrop: 0, initializer_range: 0.02, layer_norm_eps: 1e-12, scale_embedding: true, tie_word_embeddings: true, use_cache: true,
      bos_token_id: 0, pad_token_id: 1, eos_token_id: 2,
    }),
  );
}

export function loadModel(name: string): { model?: BioGptForCausalLM; desc: string } {
  if (name === 'tiny') {
    const dir = sharedPath('golden', 'tiny_biogpt');
    if (!dir) return { desc: 'skipped: ../shared/golden/tiny_biogpt absent' };
    return { model: BioGptForCausalLM.fromPretrained(dir), desc: 'golden tiny: 64 × 2 layers, vocab 512' };
  }
  if (name === 'mid') {
    return { model: randomModel({ vocab_size: 42384, hidden_size: 512, num_hidden_layers: 4, num_attention_heads: 8, intermediate_size: 2048, max_position_embeddings: 1024 }), desc: 'random: 512 × 4 layers, vocab 42384' };
  }
  if (name === 'mid-int8') {
    const { model } = loadModel('mid');
    quantizeInt8(model!);
    return { model, desc: 'random: 512 × 4 layers, vocab 42384, int8 base' };
  }
  if (name === 'biogpt') return { model: randomModel({ ...BIOGPT_SIZES.biogpt }), desc: 'random: 1024 × 24 layers, vocab 42384' };
  if (name === 'biogpt-int8') {
    const model = randomModel({ ...BIOGPT_SIZES.biogpt });
    quantizeInt8(model);
    return { model, desc: 'random: 1024 × 24 layers, vocab 42384, int8 base' };
  }
  throw new Error(`generate bench: unknown model ${name} (tiny, mid, mid-int8, biogpt, biogpt-int8)`);
}

export async function bench(): Promise<Row[]> {
  const names = (process.env.RADGRAD_BENCH_GEN_MODELS ?? 'tiny,mid').split(',').map((s) => s.trim()).filter(Boolean);
  const reps = Math.max(1, Number(process.env.RADGRAD_BENCH_REPS ?? 2));
  const skinnyEnv = process.env.RADGRAD_BENCH_GEN_INT8_SKINNY ?? 'on';
  const settings: Array<'auto' | false> = { on: ['auto' as const], off: [false as const], both: ['auto' as const, false as const] }[skinnyEnv] ?? [];
  if (!settings.length) throw new Error(`RADGRAD_BENCH_GEN_INT8_SKINNY: on, off or both (got ${skinnyEnv})`);
  const pipeEnv = process.env.RADGRAD_BENCH_GEN_PIPELINE ?? 'on';
  const pipes: boolean[] = { on: [true], off: [false], both: [true, false] }[pipeEnv] ?? [];
  if (!pipes.length) throw new Error(`RADGRAD_BENCH_GEN_PIPELINE: on, off or both (got ${pipeEnv})`);
  type Setting = { skinny: 'auto' | false; pipeline: boolean };
  const withSetting = async <T>(st: Setting, f: () => Promise<T>): Promise<T> => {
    int8SkinnyTuning.use = st.skinny;
    pipelineTuning.use = st.pipeline;
    try {
      return await f();
    } finally {
      int8SkinnyTuning.use = 'auto';
      pipelineTuning.use = true;
    }
  };
  const rows: Row[] = [];
  for (const name of names) {
    const { model, desc } = loadModel(name);
    if (!model) {
      rows.push({ model: name, config: desc });
      continue;
    }
    try {
      model.eval();
      const vocab = model.config.vocabSize;
      const maxNew = Math.min(Number(process.env.RADGRAD_BENCH_GEN_NEW ?? 32), model.config.maxPositionEmbeddings - PROMPT_LEN);
      for (const batch of [1, 8]) {
        // Deterministic prompts of ordinary token ids (specials 0..3 avoided).
        const prompts = Array.from({ length: batch }, (_, b) => Array.from({ length: PROMPT_LEN }, (_, i) => 4 + ((b * 131 + i * 17) % (vocab - 4))));
        // No eos ids: every row makes maxNew tokens, on the plain greedy path (argmax on the device).
        const opts = { maxNewTokens: maxNew, eosTokenId: [] as number[] };
        type Best = { tps: number; prefill: number; decode: number; steps: number };
        const variants: Setting[] = settings.flatMap((skinny) => (batch === 1 ? pipes : [true]).map((pipeline) => ({ skinny, pipeline })));
        const best: Array<Best | undefined> = variants.map(() => undefined);
        for (const st of variants) {
          await withSetting(st, () => generate(model, prompts, { ...opts, maxNewTokens: Math.min(4, maxNew) }));
        }
        for (let r = 0; r < reps; r++) {
          for (let i = 0; i < variants.length; i++) {
            const s = (await withSetting(variants[i]!, () => generate(model, prompts, opts))).stats;
            const b = best[i];
            if (!b || s.tokensPerSecond > b.tps) best[i] = { tps: s.tokensPerSecond, prefill: s.prefillMs, decode: s.decodeMs, steps: s.steps };
          }
        }
        variants.forEach((st, i) => {
          const b = best[i]!;
          rows.push({
            model: name, config: desc, batch, ...(settings.length > 1 ? { int8_skinny: st.skinny === 'auto' ? 'auto' : 'off' } : {}),
            ...(pipes.length > 1 ? { pipelined: batch === 1 ? (st.pipeline ? 'yes' : 'no') : 'n/a' } : {}), prompt: PROMPT_LEN, new_tokens: maxNew,
            prefill_ms: b.prefill, ms_per_step: b.decode / Math.max(1, b.steps), tokens_per_s: b.tps,
          });
        });
      }
    } finally {
      model.dispose();
    }
  }
  return rows;
}
