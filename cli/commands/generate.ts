/**
 * `radgrad generate --model <dir> [--adapter <dir>] [--int8] (--prompt <text> | --prompts <jsonl> | --prompt-ids 2,17,45)`:
 * text generation with transformers' generate semantics (greedy, sampling, beam search), streamed
 * to the terminal as produced, or JSONL with --json; decoding speed goes to stderr.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { RadgradError } from '../../src/errors.js';
import { generate, generateText, newIds, resolveOptions, type GenerateOptions } from '../../src/generate/index.js';
import { action, startGpu } from '../run.js';
import { addGenerationOptions, checkPromptLengths, GENERATION_CONFIG_HELP, generationOptions, loadForGeneration, unescapePrompt, type GenFlags } from './gen_common.js';

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

function readPrompts(file: string, field: string): Array<{ text: string; line: number }> {
  if (!fs.existsSync(file)) throw new RadgradError(`--prompts ${file}: no such file`);
  const out: Array<{ text: string; line: number }> = [];
  fs.readFileSync(file, 'utf8').split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new RadgradError(`${file}:${i + 1}: not JSON`, { hint: `one object per line with a "${field}" string` });
    }
    const v = (rec as Record<string, unknown>)[field];
    if (typeof v !== 'string') throw new RadgradError(`${file}:${i + 1}: no string field "${field}"`, { hint: 'choose the field with --field' });
    out.push({ text: v, line: i + 1 });
  });
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

export async function runGenerate(o: GenerateCliOptions): Promise<void> {
  const sources = [o.prompt, o.prompts, o.promptIds].filter((x) => x !== undefined).length;
  if (sources !== 1) throw new RadgradError('give exactly one of --prompt, --prompts or --prompt-ids', { hint: 'radgrad generate --model <dir> --prompt "Cardiomegaly: 1; Edema: uncertain. \\nFindings:"' });
  const flags = generationOptions(o);
  const { model, tokenizer, notes, gen, lengthLimit } = loadForGeneration({ ...o, needTokenizer: o.promptIds === undefined, generation: flags, defaultMaxNew: DEFAULT_MAX_NEW });
  for (const n of notes) process.stderr.write(`[generate] ${n}\n`);
  const stream = !o.json && (gen.numBeams ?? 1) === 1;
  try {
    if (o.promptIds !== undefined) {
      const ids = parseIds(o.promptIds);
      const opts: GenerateOptions = { ...gen };
      if (stream) opts.onTokens = (t) => process.stdout.write(`${tokenizer ? tokenizer.decode([t[0]!]) : t[0]} `);
      const t0 = performance.now();
      const r = await generate(model, [ids], opts);
      const ms = performance.now() - t0;
      const { eos, padTokenId } = resolveOptions(model, gen);
      const out = newIds(r, eos, padTokenId)[0]!;
      const text = tokenizer ? tokenizer.decode(out, { skipSpecialTokens: true }) : undefined;
      if (o.json) process.stdout.write(JSON.stringify({ prompt_ids: ids, ids: out, sequence: r.sequences[0], ...(text !== undefined ? { text } : {}) }) + '\n');
      else if (!stream) process.stdout.write((text ?? out.join(' ')) + '\n');
      else process.stdout.write('\n');
      reportSpeed(r.stats.newTokens, ms, r.stats.steps, gen.numBeams ?? 1);
      return;
    }
    const raw = o.prompt !== undefined ? [{ text: o.prompt, line: 0 }] : readPrompts(o.prompts!, o.field);
    const prompts = raw.map((p) => (o.rawPrompt ? p.text : unescapePrompt(p.text)));
    const names = raw.map((p, i) => (o.prompt !== undefined ? 'the --prompt text' : `prompt ${i + 1} (line ${p.line} of ${o.prompts})`));
    checkPromptLengths('generate', prompts.map((p, i) => ({ tokens: tokenizer!.encode(p).length, name: names[i]! })), model.config.maxPositionEmbeddings, gen, lengthLimit);
    const bs = Number(o.batchSize);
    if (!Number.isInteger(bs) || bs < 1) throw new RadgradError(`--batch-size must be a positive integer, got ${o.batchSize}`);
    const batch = stream ? 1 : bs; // streaming interleaves nothing: one prompt at a time
    let tokens = 0;
    let steps = 0;
    const t0 = performance.now();
    for (let i = 0; i < prompts.length; i += batch) {
      const chunk = prompts.slice(i, i + batch);
      if (stream && prompts.length > 1) process.stdout.write(`### ${i + 1}: ${chunk[0]!.replace(/\n/g, '\\n')}\n`);
      const { outputs, result } = await generateText(model, tokenizer!, chunk, { ...gen, ...(stream ? { onText: (_b: number, d: string) => process.stdout.write(d) } : {}) });
      tokens += result.stats.newTokens;
      steps += result.stats.steps;
      for (const out of outputs) {
        if (o.json) process.stdout.write(JSON.stringify({ prompt: out.prompt, ids: out.ids, text: out.text }) + '\n');
        else if (!stream) process.stdout.write(`${out.text}\n`);
      }
      if (stream) process.stdout.write('\n');
    }
    reportSpeed(tokens, performance.now() - t0, steps, gen.numBeams ?? 1);
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
    .option('--batch-size <n>', 'prompts per batch with --json or beam search (left padded)', '8')
    .option('--json', 'JSONL output: {prompt, ids, text} per prompt (no streaming)');
  addGenerationOptions(cmd, DEFAULT_MAX_NEW)
    .addHelpText(
      'after',
      `
Shells pass \\n inside quotes as a backslash and an n; radgrad turns it into a newline, as the
prompts used for training ("<labels>. \\nFindings:") contain one. --raw-prompt keeps it literal.

Examples:
  $ radgrad generate --model radgrad-demo/base --adapter radgrad-demo/lora/adapter --prompt "Cardiomegaly: 1; Edema: uncertain. \\nFindings:"
  $ radgrad generate --model biogpt/ --prompts prompts.jsonl --num-beams 4 --json > out.jsonl
  $ radgrad generate --model ../shared/golden/tiny_biogpt --prompt-ids 2,17,45,300 --max-new-tokens 16 --json
${GENERATION_CONFIG_HELP}`,
    )
    .action(
      action(async (opts: GenerateCliOptions, c: Command) => {
        await startGpu(c);
        await runGenerate(opts);
      }),
    );
}
