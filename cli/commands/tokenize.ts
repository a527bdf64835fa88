/**
 * `radgrad tokenize --model <dir> [--jsonl <file> --field text] [--decode]`: BioGPT tokenization as
 * JSON lines, one per input (stdin lines or JSONL records), for scripts.
 */
import type { Command } from 'commander';
import { createReadStream, existsSync } from 'node:fs';
import { numberedLines, parseJsonLine } from '../../src/data/jsonl.js';
import type { Readable, Writable } from 'node:stream';
import { RadgradError } from '../../src/errors.js';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';
import { action } from '../run.js';

export interface TokenizeCliOptions {
  model?: string;
  jsonl?: string;
  field?: string;
  decode?: boolean;
  keepSpecial?: boolean;
}

function parseIds(value: unknown, where: string): number[] {
  if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new RadgradError(`${where}: --decode expects an array of non-negative integer ids, got ${JSON.stringify(value)?.slice(0, 80)}`, {
      hint: 'give one JSON array per line, e.g. [2, 18, 535]',
    });
  }
  return value as number[];
}

/**
 * Streams `input` through the tokenizer and writes one JSON object per input to `output`:
 * encoding gives {ids, tokens}; --decode reads id arrays and gives {ids, tokens, text}.
 */
export async function runTokenize(opts: TokenizeCliOptions, input: Readable, output: Writable): Promise<number> {
  if (!opts.model) {
    throw new RadgradError('tokenize: --model <dir> is required', {
      hint: 'pass the folder holding vocab.json and merges.txt, e.g. --model ../shared/data/biogpt-vocab',
    });
  }
  if (opts.jsonl !== undefined && !existsSync(opts.jsonl)) {
    throw new RadgradError(`tokenize: JSONL file ${opts.jsonl} does not exist`, { hint: 'check the --jsonl path' });
  }
  const tok = BioGptTokenizer.fromDir(opts.model);
  const field = opts.field ?? 'text';
  const source = opts.jsonl !== undefined ? createReadStream(opts.jsonl, 'utf8') : input;
  let count = 0;
  for await (const { text: raw, line: lineNo } of numberedLines(source)) {
    const where = `${opts.jsonl ?? 'stdin'}:${lineNo}`;
    let value: unknown = raw;
    if (opts.jsonl !== undefined || opts.decode) {
      if (raw.trim() === '') continue;
      value = parseJsonLine(raw, where, 'each line must be one JSON value');
    }
    if (opts.jsonl !== undefined) {
      if (value === null || typeof value !== 'object' || !(field in value)) {
        throw new RadgradError(`${where}: record has no field "${field}"`, { hint: 'choose the text field with --field <name>' });
      }
      value = (value as Record<string, unknown>)[field];
    }
    let record: Record<string, unknown>;
    if (opts.decode) {
      const ids = parseIds(value, where);
      const tokens = ids.map((id) => tok.idToTokenString(id));
      record = { ids, tokens, text: tok.decode(ids, { skipSpecialTokens: !opts.keepSpecial }) };
    } else {
      if (typeof value !== 'string') {
        throw new RadgradError(`${where}: field "${field}" must be a string, got ${typeof value}`, {
          hint: 'to turn ids back into text use --decode',
        });
      }
      record = { ids: tok.encode(value), tokens: tok.tokenize(value) };
    }
    if (!output.write(JSON.stringify(record) + '\n')) await new Promise((r) => output.once('drain', r));
    count++;
  }
  return count;
}

export function register(program: Command): void {
  program
    .command('tokenize')
    .description('BioGPT tokenization (Moses + BPE, identical to Hugging Face) as JSON lines: {ids, tokens} per input')
    .option('--model <dir>', 'folder with vocab.json and merges.txt')
    .option('--jsonl <file>', 'read records from a JSONL file instead of stdin lines')
    .option('--field <name>', 'JSONL field holding the text (or ids with --decode)', 'text')
    .option('--decode', 'inputs are JSON arrays of ids; output adds the decoded "text"')
    .option('--keep-special', 'with --decode, keep <s> <pad> </s> <unk> in the text')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ echo "No acute disease." | radgrad tokenize --model ../shared/data/biogpt-vocab\n' +
        '  {"ids":[2,668,293,76,4],"tokens":["No</w>","acute</w>","disease</w>",".</w>"]}\n' +
        '  $ radgrad tokenize --model ../shared/data/biogpt-vocab --jsonl reports.jsonl --field findings\n' +
        '  $ echo "[2, 18, 535]" | radgrad tokenize --model ../shared/data/biogpt-vocab --decode',
    )
    .action(
      action(async (opts: TokenizeCliOptions) => {
        await runTokenize(opts, process.stdin, process.stdout);
      }),
    );
}
