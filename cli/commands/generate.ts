/**
 * `radgrad generate --model <dir> [--adapter <dir>] [--int8] (--prompt <text> | --prompts <jsonl> | --prompt-ids 2,17,45)`:
 * text generation with transformers' generate semantics (greedy, sampling, beam search), streamed
 * to the terminal as produced, or JSONL with --json; decoding speed goes to stderr. With
 * --num-return-sequences n > 1, one record per sequence, with the prompt's index and the
 * sequence's rank (RETURN_SEQUENCES_HELP).
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { RadgradError } from '../../src/errors.js';
import { numberedLines, parseJsonLine, stringField } from '../../src/data/jsonl.js';
import { generate, generateText, newIds, seedsForChunk, type GenerateOptions } from '../../src/generate/index.js';
import { action, startGpu } from '../run.js';
import { addGenerationOptions, checkRunPromptLengths, GENERATION_CONFIG_HELP, generationOptions, loadForGeneration, resolveForCli, unescapePrompt, type GenFlags } from './gen_common.js';

interface GenerateCliOptions extends GenFlags {
  model?: string;
  adapter?: string;
  tokenizer?: string;
  int8?: boolean;
  prompt?: string;
  prompts?: string;
  promptIds?: string;
  field: string;
  batchSize: string;
  rawPrompt?: boolean;
  json?: boolean;
}

const DEFAULT_MAX_NEW = 64;

async function readPrompts(file: string, field: string): Promise<Array<{ text: string; line: number }>> {
  if (!fs.existsSync(file)) throw new RadgradError(`--prompts ${file}: no such file`);
  const out: Array<{ text: string; line: number }> = [];
  for await (const { text, line } of numberedLines(fs.createReadStream(file, 'utf8'))) {
    if (!text.trim()) continue;
    const where = `${file}:${line}`;
    const rec = parseJsonLine(text, where, `one object per line with a "${field}" string`);
    out.push({ text: stringField(rec, field, where, 'choose the field with --field'), line });
  }
  if (!out.length) throw new RadgradError(`${file}: no prompts`);
  return out;
}

function parseIds(s: string): number[] {
  const ids = s.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  if (!ids.length || ids.some((n) => !Number.isInteger(n) || n < 0)) throw new RadgradError(`--prompt-ids must be comma-separated token ids, got ${JSON.stringify(s)}`, { hint: 'e.g. --prompt-ids 2,17,45,300 (BioGPT prompts start with </s> = 2)' });
  return ids;
}

/** Output tokens per second (with beam search: of the returned sequences, not of every beam). */
function reportSpeed(newTokens: number, ms: number, steps: number, beams: number): void {
  const tps = ms > 0 ? (newTokens * 1000) / ms : 0;
  const how = beams > 1 ? `, ${beams} beams` : '';
  process.stderr.write(`[generate] ${newTokens} new tokens in ${(ms / 1000).toFixed(2)} s (${steps} decode steps${how}): ${tps.toFixed(1)} output tokens/s\n`);
}

/**
 * What --num-return-sequences n > 1 writes, one record per sequence. n = 1 keeps the records of
 * one sequence per prompt (no prompt_index / rank / score).
 */
const RETURN_SEQUENCES_HELP = `
With --num-return-sequences n > 1 (or num_return_sequences in generation_config.json), every prompt
gives n sequences, in prompt order: with --json one JSON line per sequence, the usual fields plus
"prompt_index" (0-based, the prompt's position in the input), "rank" (0 .. n-1; beam search: 0 is
the best, by descending "score", the length-normalised log-probability; sampling: the sample's
number) and, for beam search, "score". Without --json, a "### <prompt number>: <prompt>" line and
then "<rank + 1>: <text>" per sequence. Samples are reproducible: sample k of prompt p draws from
its own stream, derived from --seed, p and k, so its random draws do not depend on --batch-size or
n. Its tokens can still differ with them through the logits: batches of other shapes round them
differently in float32, which rarely changes a token, and --int8 finds its outlier columns over the
whole batch, so with --int8 the batch can change the samples more often. A batch of sampling
decodes --batch-size × n sequences at once (beam search: --batch-size × --num-beams), so lower
--batch-size for a large n; n itself has no upper bound.`;

/** A --json record: the fields of one sequence per prompt, plus prompt_index / rank / score when n > 1. */
function record(fields: Record<string, unknown>, n: number, promptIndex: number, rank: number, score: number | undefined): string {
  const extra = n > 1 ? { prompt_index: promptIndex, rank, ...(score !== undefined ? { score } : {}) } : {};
  return JSON.stringify({ ...fields, ...extra }) + '\n';
}

export async function runGenerate(o: GenerateCliOptions): Promise<void> {
  const sources = [o.prompt, o.prompts, o.promptIds].filter((x) => x !== undefined).length;
  if (sources !== 1) throw new RadgradError('give exactly one of --prompt, --prompts or --prompt-ids', { hint: 'radgrad generate --model <dir> --prompt "Cardiomegaly: 1; Edema: uncertain. \\nFindings:"' });
  const flags = generationOptions(o);
  const loaded = loadForGeneration({ ...o, needTokenizer: o.promptIds === undefined, generation: flags, defaultMaxNew: DEFAULT_MAX_NEW });
  const { model, tokenizer, notes, gen, lengthLimit } = loaded;
  try {
    for (const n of notes) process.stderr.write(`[generate] ${n}\n`);
    // Checked here, before any prompt is read or generated (eos / pad: what generate() stops at).
    const { eos, padTokenId, numBeams, numReturnSequences: n } = resolveForCli('generate', model, loaded, flags);
    const maxPos = model.config.maxPositionEmbeddings;
    const stream = !o.json && numBeams === 1 && n === 1;
    const seed = gen.seed ?? 0;
    if (o.promptIds !== undefined) {
      const ids = parseIds(o.promptIds);
      checkRunPromptLengths('generate', [ids.length], () => 'the --prompt-ids prompt', maxPos, gen, lengthLimit);
      const opts: GenerateOptions = { ...gen };
      if (stream) opts.onTokens = (t) => process.stdout.write(`${tokenizer ? tokenizer.decode([t[0]!]) : t[0]} `);
      const t0 = performance.now();
      const r = await generate(model, [ids], opts);
      const ms = performance.now() - t0;
      if (!o.json && n > 1) process.stdout.write(`### 1: ${ids.join(',')}\n`);
      newIds(r, eos, padTokenId).forEach((out, k) => {
        const text = tokenizer ? tokenizer.decode(out, { skipSpecialTokens: true }) : undefined;
        if (o.json) process.stdout.write(record({ prompt_ids: ids, ids: out, sequence: r.sequences[k], ...(text !== undefined ? { text } : {}) }, n, 0, k, r.sequencesScores?.[k]));
        else if (!stream) process.stdout.write(`${n > 1 ? `${k + 1}: ` : ''}${text ?? out.join(' ')}\n`);
        else process.stdout.write('\n');
      });
      reportSpeed(r.stats.newTokens, ms, r.stats.steps, numBeams);
      return;
    }
    const raw = o.prompt !== undefined ? [{ text: o.prompt, line: 0 }] : await readPrompts(o.prompts!, o.field);
    // Tokenized once: the ids are checked against the model's positions, then generated from.
    const prompts = raw.map((p) => {
      const text = o.rawPrompt ? p.text : unescapePrompt(p.text);
      return { text, ids: tokenizer!.encode(text) };
    });
    const nameOf = (i: number) => (o.prompt !== undefined ? 'the --prompt text' : `prompt ${i + 1} (line ${raw[i]!.line} of ${o.prompts})`);
    checkRunPromptLengths('generate', prompts.map((p) => p.ids.length), nameOf, maxPos, gen, lengthLimit);
    const bs = Number(o.batchSize);
    if (!Number.isInteger(bs) || bs < 1) throw new RadgradError(`--batch-size must be a positive integer, got ${o.batchSize}`);
    const batch = stream ? 1 : bs; // streaming interleaves nothing: one prompt at a time
    const oneLine = (s: string) => s.replace(/\n/g, '\\n');
    let tokens = 0;
    let steps = 0;
    const t0 = performance.now();
    for (let i = 0; i < prompts.length; i += batch) {
      const chunk = prompts.slice(i, i + batch);
      if (stream && prompts.length > 1) process.stdout.write(`### ${i + 1}: ${oneLine(chunk[0]!.text)}\n`);
      // Each prompt keeps the sample streams it would have in one call over all prompts.
      const opts = { ...gen, seed: seedsForChunk(seed, i, chunk.length), ...(stream ? { onText: (_b: number, d: string) => process.stdout.write(d) } : {}) };
      const { outputs, result } = await generateText(model, tokenizer!, chunk, opts);
      tokens += result.stats.newTokens;
      steps += result.stats.steps;
      for (const out of outputs) {
        const p = i + out.promptIndex;
        if (o.json) process.stdout.write(record({ prompt: out.prompt, ids: out.ids, text: out.text }, n, p, out.rank, out.score));
        else if (n > 1) process.stdout.write(`${out.rank === 0 ? `### ${p + 1}: ${oneLine(out.prompt)}\n` : ''}${out.rank + 1}: ${out.text}\n`);
        else if (!stream) process.stdout.write(`${out.text}\n`);
      }
      if (stream) process.stdout.write('\n');
    }
    reportSpeed(tokens, performance.now() - t0, steps, numBeams);
  } finally {
    model.dispose();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('generate')
    .description('generate text (a report from a label prompt) with a BioGPT model, optionally with a LoRA adapter')
    .option('--model <dir>', 'Hugging Face BioGPT folder (config.json + model.safetensors; vocab.json + merges.txt for text)')
    .option('--adapter <dir>', 'LoRA adapter folder (PEFT layout) applied to the model')
    .option('--tokenizer <dir>', 'folder with vocab.json + merges.txt (default: --model)')
    .option('--int8', 'int8 base weights (LLM.int8-style; the adapter stays float32)')
    .option('--prompt <text>', 'one prompt; a typed \\n becomes a newline (see --raw-prompt)')
    .option('--prompts <file>', 'JSONL file, one prompt per line in --field')
    .option('--field <name>', 'JSONL field holding the prompt', 'prompt')
    .option('--prompt-ids <list>', 'comma-separated token ids (no tokenizer needed)')
    .option('--raw-prompt', 'keep a typed \\n as backslash + n')
    .option('--batch-size <n>', 'prompts per batch with --json, beam search or --num-return-sequences (left padded); a batch decodes batch-size × n sequences with --num-return-sequences n (batch-size × --num-beams with beam search), so memory grows with both', '8')
    .option('--json', 'JSONL output: {prompt, ids, text} per prompt (no streaming); per sequence with --num-return-sequences');
  addGenerationOptions(cmd, DEFAULT_MAX_NEW, { returnSequences: true })
    .addHelpText(
      'after',
      `
Shells pass \\n inside quotes as a backslash and an n; radgrad turns it into a newline, as the
prompts used for training ("<labels>. \\nFindings:") contain one. --raw-prompt keeps it literal.

Examples:
  $ radgrad generate --model radgrad-demo/base --adapter radgrad-demo/lora/adapter --prompt "Cardiomegaly: 1; Edema: uncertain. \\nFindings:"
  $ radgrad generate --model biogpt/ --prompts prompts.jsonl --num-beams 4 --json > out.jsonl
  $ radgrad generate --model ../shared/golden/tiny_biogpt --prompt-ids 2,17,45,300 --max-new-tokens 16 --json
  $ radgrad generate --model biogpt/ --prompts prompts.jsonl --do-sample --num-return-sequences 4 --seed 7 --json
${RETURN_SEQUENCES_HELP}
${GENERATION_CONFIG_HELP}`,
    )
    .action(
      action(async (opts: GenerateCliOptions, c: Command) => {
        await startGpu(c);
        await runGenerate(opts);
      }),
    );
}
