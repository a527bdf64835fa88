/**
 * `radgrad eval --model <dir> [--adapter <dir>] --data <eval.jsonl> [--out <dir>] [generation flags]`:
 * generates a report for every prompt and writes metrics.json (BLEU-4, ROUGE-L, label consistency
 * per label + micro/macro P/R/F1) and predictions.jsonl, both atomically.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { OpArgumentError, RadgradError } from '../../src/errors.js';
import { readJsonl, writeTextAtomic } from '../../src/data/jsonl.js';
import { generateText, seedsForChunk } from '../../src/generate/index.js';
import { corpusBleu, rougeL, labelAgreement, parsePromptLabels, type PromptLabelValue } from '../../src/eval/index.js';
import { closestObservation, isChexpertObservation } from '../../src/eval/label_metrics.js';
import { action, checkOutputFolder, startGpu } from '../run.js';
import { addGenerationOptions, checkRunPromptLengths, GENERATION_CONFIG_HELP, generationOptions, loadForGeneration, resolveForCli, type GenFlags } from './gen_common.js';

interface EvalCliOptions extends GenFlags {
  model?: string;
  adapter?: string;
  tokenizer?: string;
  int8?: boolean;
  data?: string;
  out: string;
  limit?: string;
  batchSize: string;
  /** commander's --no-label-metrics: false skips the label consistency metric. */
  labelMetrics?: boolean;
}

const DEFAULT_MAX_NEW = 128;

/**
 * The line number of each record in a JSONL file (blank lines are skipped, as readJsonl does,
 * which does not keep them): read again only to name the records an error is about.
 */
function recordLines(file: string): number[] {
  return fs.readFileSync(file, 'utf8').split(/\r?\n/).flatMap((l, i) => (l.trim() ? [i + 1] : []));
}

/** A prompt that is not a label list, and why. */
class NotLabelList {
  constructor(readonly why: string) {}
}

/**
 * A prompt's label list, or why it is not one: it does not parse, or it has no entry at all
 * ("Findings:", a pre-training prompt; `prep` never writes an empty list, as it drops studies
 * without labels).
 */
function promptLabelsOf(prompt: string): Record<string, PromptLabelValue> | NotLabelList {
  try {
    const labels = parsePromptLabels(prompt);
    return Object.keys(labels).length ? labels : new NotLabelList('it has no "Name: value" entry');
  } catch (e) {
    if (e instanceof OpArgumentError) return new NotLabelList(e.message);
    throw e;
  }
}

/**
 * The CheXpert labels each prompt asks for, read before anything is generated. Prompts that are
 * not label lists at all (none parses) skip the label metric with a note; a set where only some
 * parse stops the run, naming the first bad record, since a typo there would silently drop it.
 * So does a name that is not a CheXpert observation ("Edemma: 1"): it would count as a finding
 * the labeler never reports, and the observation meant would leave the metric.
 */
function labelsOfPrompts(prompts: readonly string[], nameOf: (i: number) => string, log: (l: string) => void): Array<Record<string, PromptLabelValue>> | null {
  const parsed = prompts.map(promptLabelsOf);
  for (const [i, p] of parsed.entries()) {
    if (p instanceof NotLabelList) continue;
    const unknown = Object.keys(p).find((k) => !isChexpertObservation(k));
    if (unknown !== undefined) {
      throw new RadgradError(`${nameOf(i)}: its prompt's label "${unknown}" is not a CheXpert observation`, {
        hint: `did you mean "${closestObservation(unknown)}"? Label names are the 14 CheXpert observations (any case); or pass --no-label-metrics to score BLEU-4 and ROUGE-L only`,
      });
    }
  }
  const bad = parsed.findIndex((p) => p instanceof NotLabelList);
  if (bad < 0) return parsed as Array<Record<string, PromptLabelValue>>;
  if (parsed.every((p) => p instanceof NotLabelList)) {
    log('[eval] no prompt is a CheXpert label list ("Name: 1|0|uncertain; ..."), so label consistency is not scored (BLEU-4 and ROUGE-L are)');
    return null;
  }
  throw new RadgradError(`${nameOf(bad)}: its prompt is not a CheXpert label list, though other prompts are: ${(parsed[bad] as NotLabelList).why}`, {
    hint: 'fix that prompt, or pass --no-label-metrics to score BLEU-4 and ROUGE-L only',
  });
}

export async function runEval(o: EvalCliOptions, log: (l: string) => void = (l) => process.stderr.write(l + '\n')): Promise<Record<string, unknown>> {
  if (!o.data) throw new RadgradError('--data <eval.jsonl> is required', { hint: 'a JSONL of {id, prompt, completion}, e.g. from `radgrad prep mimic`' });
  // Before any generation: an --out that cannot be a folder would lose every prediction at the end.
  checkOutputFolder(o.out);
  if (!fs.existsSync(o.data)) throw new RadgradError(`--data ${o.data}: no such file`);
  let limit: number | undefined;
  if (o.limit !== undefined) {
    limit = Number(o.limit);
    if (!/^\s*\d+\s*$/.test(o.limit) || !Number.isSafeInteger(limit) || limit < 1) {
      throw new RadgradError(`--limit must be a positive integer, got ${JSON.stringify(o.limit)}`, { hint: 'e.g. --limit 32 evaluates the first 32 records; leave it out to evaluate them all' });
    }
  }
  let recs = readJsonl(o.data);
  if (limit !== undefined) recs = recs.slice(0, limit);
  const flags = generationOptions(o);
  if (flags.numReturnSequences !== undefined && flags.numReturnSequences !== 1) {
    throw Object.assign(new OpArgumentError('eval', 'numReturnSequences', '1 (eval scores one prediction per record)', String(flags.numReturnSequences)), {
      hint: 'leave numReturnSequences out: n sequences per prompt are for `radgrad generate --num-return-sequences n`',
    });
  }
  const bs = Number(o.batchSize);
  if (!Number.isInteger(bs) || bs < 1) throw new RadgradError(`--batch-size must be a positive integer, got ${o.batchSize}`);
  let lines: number[] | undefined;
  const nameOf = (i: number) => `record ${i + 1} (id ${recs[i]!.id}, line ${(lines ??= recordLines(o.data!))[i]} of ${path.basename(o.data!)})`;
  // Read before the model is loaded: a prompt that is not a usable label list stops the run at once.
  const promptLabels = o.labelMetrics === false ? null : labelsOfPrompts(recs.map((r) => r.prompt), nameOf, log);
  const loaded = loadForGeneration({
    ...o, needTokenizer: true, generation: flags, defaultMaxNew: DEFAULT_MAX_NEW,
    notUsed: { num_return_sequences: 'eval scores one prediction per record' },
  });
  const { model, tokenizer, notes, gen, generationConfig, lengthLimit } = loaded;
  notes.forEach((n) => log(`[eval] ${n}`));
  const preds: Array<{ id: string; prompt: string; reference: string; generated: string; ids: number[] }> = [];
  let tokens = 0;
  const t0 = performance.now();
  try {
    // Tokenized once: the ids are checked against the model's positions, then generated from.
    const prompts = recs.map((r) => ({ text: r.prompt, ids: tokenizer!.encode(r.prompt) }));
    resolveForCli('eval', model, loaded, flags);
    checkRunPromptLengths('eval', prompts.map((p) => p.ids.length), nameOf, model.config.maxPositionEmbeddings, gen, lengthLimit);
    const seed = gen.seed ?? 0;
    for (let i = 0; i < recs.length; i += bs) {
      const chunk = recs.slice(i, i + bs);
      // Sampling: each record keeps the stream it would have in one call over all records.
      const { outputs, result } = await generateText(model, tokenizer!, prompts.slice(i, i + bs), { ...gen, seed: seedsForChunk(seed, i, chunk.length) });
      tokens += result.stats.newTokens;
      // One output per record (numReturnSequences is refused above); paired by its prompt's index, never by position.
      for (const g of outputs) {
        const rec = chunk[g.promptIndex]!;
        preds.push({ id: rec.id, prompt: g.prompt, reference: rec.completion, generated: g.text, ids: g.ids });
      }
      log(`[eval] ${preds.length}/${recs.length} generated (${((tokens * 1000) / (performance.now() - t0)).toFixed(1)} output tokens/s)`);
    }
  } finally {
    model.dispose();
  }
  // Predictions first: they cost the generation time, the metrics below cost nothing to redo.
  fs.mkdirSync(o.out, { recursive: true });
  writeTextAtomic(path.join(o.out, 'predictions.jsonl'), preds.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const bleu = corpusBleu(preds.map((p) => p.generated), preds.map((p) => [p.reference]));
  const rouge = rougeL(preds.map((p) => p.generated), preds.map((p) => p.reference));
  const labels = promptLabels ? labelAgreement(preds.map((p, i) => ({ promptLabels: promptLabels[i]!, reportText: p.generated }))) : null;
  const metrics = {
    model: o.model, adapter: o.adapter ?? null, data: o.data, examples: preds.length, generation: gen, generationConfig,
    bleu4: bleu.bleu, rougeL: { precision: rouge.precision, recall: rouge.recall, f1: rouge.f },
    labelConsistency: labels && { micro: labels.micro, macro: labels.macro, macroLabels: labels.macroLabels, perLabel: labels.perLabel },
    seconds: (performance.now() - t0) / 1000,
  };
  writeTextAtomic(path.join(o.out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  const labelLine = labels ? `  label micro F1 ${labels.micro.f1.toFixed(3)}  macro F1 ${labels.macro.f1.toFixed(3)}` : '';
  log(`[eval] BLEU-4 ${bleu.bleu.toFixed(4)}  ROUGE-L F ${rouge.f.toFixed(4)}${labelLine}`);
  log(`[eval] wrote ${path.join(o.out, 'metrics.json')} and ${path.join(o.out, 'predictions.jsonl')}`);
  return metrics;
}

export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description('generate reports for an eval JSONL and score them: BLEU-4, ROUGE-L, CheXpert label consistency')
    .option('--model <dir>', 'Hugging Face BioGPT folder (config.json + model.safetensors)')
    .option('--adapter <dir>', 'LoRA adapter folder (PEFT layout) applied to the model')
    .option('--tokenizer <dir>', 'folder with vocab.json + merges.txt (default: --model)')
    .option('--int8', 'int8 base weights')
    .option('--data <file>', 'eval JSONL: {id, prompt, completion} per line')
    .option('--out <dir>', 'where metrics.json and predictions.jsonl go', 'eval-out')
    .option('--limit <n>', 'evaluate only the first n records')
    .option('--batch-size <n>', 'prompts per generation batch (left padded)', '8')
    .option('--no-label-metrics', 'skip the CheXpert label consistency metric (prompts that are not label lists)');
  addGenerationOptions(cmd, DEFAULT_MAX_NEW)
    .addHelpText(
      'after',
      '\nEvery prompt is checked against the model\'s positions before anything is generated: a prompt that,\n' +
        'with --max-new-tokens, does not fit stops the run at once, naming its record (id and line). Prompts are\n' +
        'never truncated or skipped silently, so the metrics always cover every record asked for.\n' +
        '\nLabel consistency needs every prompt to be a CheXpert label list ("Edema: 1; Cardiomegaly: 0. \\nFindings:"):\n' +
        'a set of prompts that are not (or have no label entry, e.g. "Findings:") is scored on BLEU-4 and ROUGE-L\n' +
        'only; a set mixing both kinds, or a label name that is not a CheXpert observation, stops the run before\n' +
        'the model is loaded, naming the record (--no-label-metrics scores such a set on BLEU-4 and ROUGE-L).\n' +
        '\nExample:\n  $ radgrad eval --model radgrad-demo/base --adapter radgrad-demo/lora/adapter --data radgrad-demo/data/reports.jsonl --limit 32 --num-beams 4 --out eval-out\n' +
        GENERATION_CONFIG_HELP,
    )
    .action(
      action(async (opts: EvalCliOptions, c: Command) => {
        await startGpu(c);
        await runEval(opts);
      }),
    );
}
