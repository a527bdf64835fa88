/**
 * `radgrad score --model <dir> (--text "..." | --jsonl <file> [--field text] | --ids 2,17,45)`:
 * mean causal-LM loss and perplexity of each input under a BioGPT checkpoint (positions before
 * --labels-from are not scored), plus the token-weighted total; --dump writes the logits as
 * safetensors (atomically). Inputs are scored one at a time, so no padding enters the numbers.
 */
import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { numberedLines, parseJsonLine, stringField } from '../../src/data/jsonl.js';
import type { Writable } from 'node:stream';
import { RadgradError } from '../../src/errors.js';
import { noGrad } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import '../../src/ops/index.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import type { TensorSource } from '../../src/io/reader.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';
import { action, startGpu } from '../run.js';

export interface ScoreCliOptions {
  model?: string;
  /** LoRA adapter folder (PEFT layout). */
  adapter?: string;
  /** Folder with vocab.json + merges.txt (default: the model folder). */
  tokenizer?: string;
  /** Checkpoint file inside the model folder (default: transformers' order). */
  checkpoint?: string;
  text?: string;
  jsonl?: string;
  field?: string;
  /** Comma-separated token ids. */
  ids?: string;
  /** First position whose token is scored (earlier labels are -100). Default 1 (everything after the first token). */
  labelsFrom?: string | number;
  json?: boolean;
  dump?: string;
}

export interface ScoreItem {
  index: number;
  /** Where the input came from (text, file:line, ids). */
  source: string;
  tokens: number;
  /** Predicted tokens that count in the loss. */
  scored: number;
  /** Mean cross-entropy (nats/token); null when nothing is scored. */
  loss: number | null;
  perplexity: number | null;
}

export interface ScoreResult {
  items: ScoreItem[];
  /** Token-weighted over all inputs. */
  total: { scored: number; loss: number | null; perplexity: number | null };
}

interface Input {
  source: string;
  ids: number[];
}

function parseIdList(s: string): number[] {
  const parts = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const ids = parts.map(Number);
  if (!ids.length || ids.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new RadgradError(`score: --ids expects comma-separated non-negative integers, got "${s.slice(0, 60)}"`, { hint: 'e.g. --ids 2,17,45,300' });
  }
  return ids;
}

function parseLabelsFrom(v: string | number | undefined): number {
  if (v === undefined) return 1;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RadgradError(`score: --labels-from must be a non-negative integer, got "${v}"`, { hint: 'e.g. --labels-from 4 scores the tokens from position 4 on' });
  return n;
}

function tokenizerFor(opts: ScoreCliOptions): BioGptTokenizer {
  const dir = opts.tokenizer ?? opts.model!;
  if (!fs.existsSync(path.join(dir, 'vocab.json')) || !fs.existsSync(path.join(dir, 'merges.txt'))) {
    throw new RadgradError(`score: ${dir} has no vocab.json + merges.txt to tokenize --text/--jsonl with`, {
      hint: 'pass --tokenizer <dir> (e.g. ../shared/data/biogpt-vocab), or give token ids with --ids',
    });
  }
  return BioGptTokenizer.fromDir(dir);
}

async function readInputs(opts: ScoreCliOptions): Promise<Input[]> {
  const given = [opts.text !== undefined, opts.jsonl !== undefined, opts.ids !== undefined].filter(Boolean).length;
  if (given !== 1) {
    throw new RadgradError(`score: give exactly one of --text, --jsonl or --ids (got ${given})`, {
      hint: 'radgrad score --model <dir> --text "No acute disease."',
    });
  }
  if (opts.ids !== undefined) return [{ source: 'ids', ids: parseIdList(opts.ids) }];
  const tok = tokenizerFor(opts);
  if (opts.text !== undefined) return [{ source: 'text', ids: tok.encode(opts.text) }];
  const file = opts.jsonl!;
  if (!fs.existsSync(file)) throw new RadgradError(`score: JSONL file ${file} does not exist`, { hint: 'check the --jsonl path' });
  const field = opts.field ?? 'text';
  const out: Input[] = [];
  for await (const { text, line } of numberedLines(fs.createReadStream(file, 'utf8'))) {
    if (text.trim() === '') continue;
    const where = `${file}:${line}`;
    out.push({ source: where, ids: tok.encode(stringField(parseJsonLine(text, where, 'each line must be one JSON object'), field, where)) });
  }
  if (!out.length) throw new RadgradError(`score: ${file} holds no records`, { hint: 'one JSON object per line, e.g. {"text": "..."}' });
  return out;
}

/**
 * Applies a PEFT LoRA adapter through src/nn/lora.ts (loaded lazily, so scoring a base model does
 * not depend on it); a clear error if this build has no LoRA loading.
 */
async function applyAdapter(model: BioGptForCausalLM, dir: string): Promise<void> {
  if (!fs.existsSync(dir)) throw new RadgradError(`score: adapter folder ${dir} does not exist`, { hint: 'pass a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)' });
  let lora: { loadAdapter?: (m: BioGptForCausalLM, d: string) => unknown } | null;
  try {
    lora = (await import('../../src/nn/lora.js')) as typeof lora;
  } catch {
    lora = null;
  }
  if (typeof lora?.loadAdapter !== 'function') {
    throw new RadgradError('score: --adapter is not available (this build has no LoRA loading)', { hint: 'score the base model without --adapter' });
  }
  lora.loadAdapter(model, dir);
  model.eval();
}

/** Scores every input with the model on the current backend; writes a report to `out`. */
export async function runScore(opts: ScoreCliOptions, out: Writable): Promise<ScoreResult> {
  if (!opts.model) throw new RadgradError('score: --model <dir> is required', { hint: 'pass a Hugging Face BioGPT folder (config.json + model.safetensors or pytorch_model.bin)' });
  const labelsFrom = parseLabelsFrom(opts.labelsFrom);
  const inputs = await readInputs(opts);
  const model = BioGptForCausalLM.fromPretrained(opts.model, opts.checkpoint ? { checkpoint: opts.checkpoint } : {});
  const dump = new Map<string, TensorSource>();
  const items: ScoreItem[] = [];
  try {
    if (opts.adapter !== undefined) await applyAdapter(model, opts.adapter);
    const V = model.config.vocabSize;
    for (const [i, inp] of inputs.entries()) {
      const T = inp.ids.length;
      if (T === 0) throw new RadgradError(`${inp.source}: no tokens to score`);
      const bad = inp.ids.find((v) => v >= V);
      if (bad !== undefined) throw new RadgradError(`${inp.source}: token id ${bad} is outside the vocabulary [0, ${V})`, { hint: 'the ids must come from this model\'s tokenizer' });
      const labels = inp.ids.map((v, t) => (t < labelsFrom ? -100 : v));
      const scored = labels.slice(1).filter((v) => v !== -100).length;
      const r = noGrad(() => tidy(() => {
        const o = model.forward({ inputIds: [inp.ids], labels: [labels] });
        return { logits: o.logits, loss: o.loss! };
      }));
      const loss = scored > 0 ? await r.loss.item() : null;
      if (opts.dump) dump.set(`logits.${i}`, { dtype: 'f32', shape: [T, V], data: (await r.logits.data()) as Float32Array });
      if (opts.dump) dump.set(`input_ids.${i}`, { dtype: 'i32', shape: [T], data: Int32Array.from(inp.ids) });
      r.logits.dispose();
      r.loss.dispose();
      items.push({ index: i, source: inp.source, tokens: T, scored, loss, perplexity: loss === null ? null : Math.exp(loss) });
    }
  } finally {
    model.dispose();
  }
  const n = items.reduce((a, it) => a + it.scored, 0);
  const totalLoss = n > 0 ? items.reduce((a, it) => a + (it.loss ?? 0) * it.scored, 0) / n : null;
  const result: ScoreResult = { items, total: { scored: n, loss: totalLoss, perplexity: totalLoss === null ? null : Math.exp(totalLoss) } };
  if (opts.dump) writeSafetensors(opts.dump, dump, { metadata: { format: 'radgrad-score', model: path.resolve(opts.model), labels_from: String(labelsFrom) }, sort: false });

  const fmt = (v: number | null, d = 4) => (v === null ? '-' : v.toFixed(d));
  if (opts.json) out.write(JSON.stringify(result) + '\n');
  else {
    const lines = items.map((it) => `#${it.index} ${it.source}: tokens ${it.tokens}, scored ${it.scored}, loss ${fmt(it.loss)}, perplexity ${fmt(it.perplexity, 2)}`);
    if (items.length > 1) lines.push(`total: scored ${n}, loss ${fmt(totalLoss)}, perplexity ${fmt(result.total.perplexity, 2)}`);
    if (opts.dump) lines.push(`logits written to ${opts.dump}`);
    out.write(lines.join('\n') + '\n');
  }
  return result;
}


export function register(program: Command): void {
  program
    .command('score')
    .description('mean causal-LM loss and perplexity of texts or token ids under a BioGPT model')
    .option('--model <dir>', 'Hugging Face BioGPT folder (config.json + model.safetensors or pytorch_model.bin)')
    .option('--adapter <dir>', 'LoRA adapter folder (PEFT layout) applied to the model')
    .option('--tokenizer <dir>', 'folder with vocab.json and merges.txt (default: the model folder)')
    .option('--checkpoint <file>', 'checkpoint file in the model folder (default: model.safetensors, else its sharded index, else pytorch_model.bin[.index.json])')
    .option('--text <text>', 'score one text')
    .option('--jsonl <file>', 'score every record of a JSONL file')
    .option('--field <name>', 'JSONL field holding the text', 'text')
    .option('--ids <list>', 'score comma-separated token ids (no tokenizer needed)')
    .option('--labels-from <n>', 'score only tokens at positions >= n (the prompt before is context)', '1')
    .option('--json', 'machine-readable output')
    .option('--dump <file.safetensors>', 'also write logits.<i> [T, V] and input_ids.<i> per input')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ radgrad score --model biogpt/ --text "No acute cardiopulmonary abnormality."\n' +
        '  $ radgrad score --model biogpt/ --jsonl reports.jsonl --field findings --json\n' +
        '  $ radgrad score --model ../shared/golden/tiny_biogpt --ids 2,17,45,300,12 --labels-from 4 --dump logits.safetensors',
    )
    .action(
      action(async (opts: ScoreCliOptions, cmd: Command) => {
        await startGpu(cmd);
        await runScore(opts, process.stdout);
      }),
    );
}
