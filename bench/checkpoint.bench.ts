/**
 * Checkpoint I/O at real BioGPT sizes. For each model in RADGRAD_BENCH_MODELS (biogpt, large;
 * default biogpt) a random checkpoint with the exact shapes of microsoft/biogpt or BioGPT-Large is
 * written with radgrad's writers, as model.safetensors (tied head stored once, as save_pretrained)
 * and as pytorch_model.bin (head sharing the embedding's storage, as torch.save), into a temp dir
 * (RADGRAD_BENCH_TMP, default the OS temp dir; removed afterwards). Then, each in a fresh child
 * process so peak RSS (VmHWM) is that phase's alone:
 *   read  - every tensor through the format's reader (readF32), nothing kept;
 *   load  - BioGptForCausalLM loaded onto the WebGPU adapter tensor by tensor, then one forward
 *           pass (batch 1, 8 tokens, no grad).
 * Rows: seconds, checkpoint GB, peak host RSS, RSS above the process baseline (Dawn, node) as a
 * multiple of the checkpoint, device bytes held by tensors, forward ms. On a software adapter
 * (lavapipe) device memory is host memory, so it is inside the RSS figures.
 *
 * The whole vocabulary is loaded (vocab_loaded) even where the embedding table exceeds the adapter's
 * maxStorageBufferBindingSize (lavapipe: 128 MiB; BioGPT's table is 174 MB): the embedding and the
 * tied head then run through the chunked kernels.
 * Run: npm run bench -- checkpoint   (RADGRAD_BENCH_MODELS=biogpt,large for both)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensors } from '../src/io/safetensors.js';
import { writeTorchBin } from '../src/io/torch_bin.js';
import type { TensorSource } from '../src/io/reader.js';
import { BIOGPT_SIZES } from '../src/models/biogpt/config.js';

type Row = Record<string, string | number>;
type ModelName = keyof typeof BIOGPT_SIZES;

const HERE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(HERE), '..');
const GB = 1e9;

function peakRss(): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

/** Parameter names and shapes of BioGptForCausalLM for a size (HF names, module order). */
function paramShapes(s: (typeof BIOGPT_SIZES)[ModelName]): Array<[string, number[]]> {
  const C = s.hidden_size;
  const F = s.intermediate_size;
  const out: Array<[string, number[]]> = [['biogpt.embed_tokens.weight', [s.vocab_size, C]], ['biogpt.embed_positions.weight', [s.max_position_embeddings + 2, C]]];
  for (let l = 0; l < s.num_hidden_layers; l++) {
    const p = `biogpt.layers.${l}.`;
    for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) out.push([`${p}self_attn.${proj}.weight`, [C, C]], [`${p}self_attn.${proj}.bias`, [C]]);
    out.push([`${p}self_attn_layer_norm.weight`, [C]], [`${p}self_attn_layer_norm.bias`, [C]]);
    out.push([`${p}fc1.weight`, [F, C]], [`${p}fc1.bias`, [F]], [`${p}fc2.weight`, [C, F]], [`${p}fc2.bias`, [C]]);
    out.push([`${p}final_layer_norm.weight`, [C]], [`${p}final_layer_norm.bias`, [C]]);
  }
  out.push(['biogpt.layer_norm.weight', [C]], ['biogpt.layer_norm.bias', [C]]);
  return out;
}

/** Deterministic small values (xorshift32, ±0.02; LayerNorm weights near 1), made when the writer asks. */
function producer(name: string, n: number): () => Float32Array {
  return () => {
    let h = 2166136261;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
    let x = h || 1;
    const a = new Float32Array(n);
    const base = /layer_norm\.weight$/.test(name) ? 1 : 0;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      a[i] = base + ((x >>> 0) / 4294967296 - 0.5) * 0.04;
    }
    return a;
  };
}

function writeCheckpoints(model: ModelName, dir: string): Row[] {
  const s = BIOGPT_SIZES[model];
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'biogpt', architectures: ['BioGptForCausalLM'], ...s, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 }, null, 2));
  const shapes = paramShapes(s);
  const sources = new Map<string, TensorSource>();
  for (const [n, shape] of shapes) sources.set(n, { dtype: 'f32', shape, data: producer(n, shape.reduce((a, b) => a * b, 1)) });
  const rows: Row[] = [];
  const st = path.join(dir, 'model.safetensors');
  let t0 = performance.now();
  writeSafetensors(st, sources, { metadata: { format: 'pt' } });
  rows.push({ model, format: 'safetensors', phase: 'write', seconds: (performance.now() - t0) / 1000, checkpoint_gb: fs.statSync(st).size / GB });
  // torch.save of a tied model: output_projection.weight shares the embedding's storage (same producer).
  const bin = new Map(sources);
  bin.set('output_projection.weight', sources.get('biogpt.embed_tokens.weight')!);
  const pt = path.join(dir, 'pytorch_model.bin');
  t0 = performance.now();
  writeTorchBin(pt, bin);
  rows.push({ model, format: 'torch .bin', phase: 'write', seconds: (performance.now() - t0) / 1000, checkpoint_gb: fs.statSync(pt).size / GB });
  return rows;
}

// ---- child phases ----------------------------------------------------------------------------

async function childRead(file: string): Promise<Row> {
  const { openCheckpointFile } = await import('../src/io/checkpoint.js');
  const base = process.memoryUsage().rss;
  const t0 = performance.now();
  const r = openCheckpointFile(file);
  let n = 0;
  let largest = 0;
  for (const k of r.keys()) {
    const a = r.readF32(k);
    n += a.length;
    largest = Math.max(largest, a.byteLength);
  }
  r.close();
  return { seconds: (performance.now() - t0) / 1000, elements: n, base_rss: base, peak_rss: peakRss(), largest_tensor: largest };
}

async function childLoad(dir: string, file: string): Promise<Row> {
  const { initWebGpuBackend } = await import('../src/backend/webgpu/index.js');
  const { shutdownGpu, gpu } = await import('../src/gpu/device.js');
  await import('../src/ops/index.js');
  const { noGrad } = await import('../src/autograd/tape.js');
  const { tidy } = await import('../src/tensor/scope.js');
  const { deferParameterInit } = await import('../src/nn/module.js');
  const { BioGptForCausalLM, openPretrained, loadPretrainedWeights } = await import('../src/models/biogpt/index.js');
  const be = await initWebGpuBackend();
  const row: Row = {};
  try {
    const info = gpu().adapterInfo;
    row.adapter = `${info.vendor} ${info.device}`.trim();
    // Pipelines and pools warm up on a throwaway tensor so the baseline includes Dawn's fixed cost.
    be.dispose(be.full([1024], 'f32', 0));
    await be.sync();
    const base = process.memoryUsage().rss;
    const t0 = performance.now();
    const { config, reader, report } = openPretrained(dir, { checkpoint: path.basename(file) });
    let model: InstanceType<typeof BioGptForCausalLM>;
    try {
      // The whole table, also where it exceeds the adapter's binding limit (chunked kernels).
      model = deferParameterInit(() => new BioGptForCausalLM(config));
      loadPretrainedWeights(model, reader, report);
    } finally {
      reader.close();
    }
    model.eval();
    await be.sync();
    row.seconds = (performance.now() - t0) / 1000;
    row.vocab_loaded = config.vocabSize;
    row.base_rss = base;
    row.peak_rss = peakRss();
    row.device_bytes = be.bytesInUse();
    const ids = [[2, 18, 125, 21, 10, 6, 503, 4]];
    const run = async () => {
      const t = performance.now();
      const l = noGrad(() => tidy(() => model.forward({ inputIds: ids }).logits));
      await l.data();
      l.dispose();
      return performance.now() - t;
    };
    row.forward_first_ms = await run(); // includes pipeline compilation
    row.forward_ms = await run();
    row.peak_rss_after_forward = peakRss();
    model.dispose();
  } catch (e) {
    row.error = (e as Error).message.split('\n')[0]!.slice(0, 200);
  } finally {
    await shutdownGpu();
  }
  return row;
}

function runChild(args: string[]): Row {
  const r = spawnSync(process.execPath, ['--import', 'tsx', HERE, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) return { error: `child ${args[1]} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ').slice(0, 200)}` };
  return JSON.parse(line) as Row;
}

const gb = (v: string | number | undefined): string | number => (typeof v === 'number' ? v / GB : (v ?? ''));

export async function bench(): Promise<Row[]> {
  const models = (process.env.RADGRAD_BENCH_MODELS ?? 'biogpt').split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of models) if (!(m in BIOGPT_SIZES)) throw new Error(`RADGRAD_BENCH_MODELS: unknown model '${m}' (have ${Object.keys(BIOGPT_SIZES).join(', ')})`);
  const rows: Row[] = [];
  for (const model of models as ModelName[]) {
    const dir = fs.mkdtempSync(path.join(process.env.RADGRAD_BENCH_TMP ?? os.tmpdir(), `radgrad-bench-${model}-`));
    try {
      const written = writeCheckpoints(model, dir);
      rows.push(...written);
      for (const [format, file] of [['safetensors', 'model.safetensors'], ['torch .bin', 'pytorch_model.bin']] as const) {
        const full = path.join(dir, file);
        const ckpt = fs.statSync(full).size;
        for (const phase of ['read', 'load'] as const) {
          const r = runChild(['--phase', phase, dir, full]);
          const out: Row = { model, format, phase: phase === 'read' ? 'read (reader only)' : 'load + forward', checkpoint_gb: ckpt / GB };
          if (typeof r.seconds === 'number') out.seconds = r.seconds;
          if (typeof r.seconds === 'number') out.gb_per_s = ckpt / GB / r.seconds;
          if (typeof r.peak_rss === 'number') {
            out.peak_rss_gb = gb(r.peak_rss);
            out.base_rss_gb = gb(r.base_rss);
            out.rss_over_ckpt = (r.peak_rss - (r.base_rss as number)) / ckpt;
          }
          if (r.device_bytes !== undefined) out.device_gb = gb(r.device_bytes);
          for (const k of ['vocab_loaded', 'forward_first_ms', 'forward_ms', 'adapter', 'error'] as const) if (r[k] !== undefined) out[k] = r[k]!;
          if (typeof r.peak_rss_after_forward === 'number') out.peak_rss_after_fwd_gb = r.peak_rss_after_forward / GB;
          rows.push(out);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

// Child entry: node --import tsx bench/checkpoint.bench.ts --phase <read|load> <dir> <file>
if (process.argv[1] === HERE && process.argv[2] === '--phase') {
  const [, , , phase, dir, file] = process.argv;
  const row = phase === 'read' ? await childRead(file!) : await childLoad(dir!, file!);
  process.stdout.write(JSON.stringify(row) + '\n');
}
