/**
 * Reading and writing the Hugging Face tokenizer files (vocab.json, merges.txt,
 * tokenizer_config.json). Reads validate and raise FileFormatError naming the file; writes are
 * atomic (temp file + rename) and byte-compatible with what `save_pretrained` produces
 * (json.dumps(indent=2, sort_keys=True, ensure_ascii=False) + "\n").
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { FileFormatError } from '../errors.js';
import { pySplit } from './char_classes.js';

export const VOCAB_FILE = 'vocab.json';
export const MERGES_FILE = 'merges.txt';
export const CONFIG_FILE = 'tokenizer_config.json';

/** Files that mark a folder as a model (weights or config) rather than a tokenizer alone. */
const MODEL_FILES = ['config.json', 'model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'];

/**
 * Checks a tokenizer folder before its files are read, so the error says what is wrong with the
 * folder: it does not exist, it is a file, or it holds a model without its tokenizer files (then
 * the tokenizer has to come from elsewhere: --tokenizer).
 */
export function checkTokenizerDir(dir: string): void {
  if (!existsSync(dir)) {
    throw new FileFormatError(dir, 'no such folder', { hint: 'check the --model (or --tokenizer) path; a model or tokenizer folder holds vocab.json and merges.txt (Hugging Face layout)' });
  }
  if (!statSync(dir).isDirectory()) throw new FileFormatError(dir, 'is a file, not a folder', { hint: 'pass the folder that holds vocab.json and merges.txt' });
  const missing = [VOCAB_FILE, MERGES_FILE].filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length && MODEL_FILES.some((f) => existsSync(path.join(dir, f)))) {
    throw new FileFormatError(dir, `holds a model but no tokenizer (${missing.join(' and ')} missing)`, {
      hint: 'pass the tokenizer folder with --tokenizer <dir> (vocab.json + merges.txt; BioGPT\'s own: ../shared/data/biogpt-vocab), or copy those two files into the model folder',
    });
  }
}

function readText(file: string, what: string): string {
  if (!existsSync(file)) {
    throw new FileFormatError(file, `${what} not found`, {
      hint: 'pass a folder holding vocab.json and merges.txt (Hugging Face layout)',
    });
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new FileFormatError(file, `cannot read ${what}: ${(cause as Error).message}`, { cause });
  }
}

/** vocab.json: a JSON object mapping token -> non-negative integer id. */
export function readVocab(file: string): Map<string, number> {
  const text = readText(file, 'vocabulary');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new FileFormatError(file, `not valid JSON (${(cause as Error).message})`, { cause });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FileFormatError(file, 'expected a JSON object mapping tokens to ids');
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new FileFormatError(file, `id of token ${JSON.stringify(token)} must be a non-negative integer, got ${JSON.stringify(id)}`);
    }
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new FileFormatError(file, 'vocabulary is empty');
  return vocab;
}

/**
 * merges.txt: one "left right [count]" per line. Like Hugging Face we drop whatever follows the last
 * newline (so a file must end with one) and keep only the first two fields of each line.
 */
export function readMerges(file: string): [string, string][] {
  const text = readText(file, 'merges file');
  const lines = text.split('\n');
  lines.pop();
  const merges: [string, string][] = [];
  lines.forEach((line, i) => {
    const fields = pySplit(line);
    if (fields.length < 2) {
      throw new FileFormatError(file, `line ${i + 1}: expected "left right [count]", got ${JSON.stringify(line)}`);
    }
    merges.push([fields[0]!, fields[1]!]);
  });
  return merges;
}

/** Python's default str ordering: by code point (UTF-16 order differs above U+D7FF). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

/** json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) for JSON-like values. */
export function pythonJsonDumps(value: unknown, indent = ''): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + pythonJsonDumps(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).sort((x, y) => compareCodePoints(x[0], y[0]));
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pythonJsonDumps(v, inner)}`).join(',\n')}\n${indent}}`;
}

/** The vocab.json text HF writes (sorted keys, two-space indent, trailing newline). */
export function vocabJson(vocab: ReadonlyMap<string, number>): string {
  const entries = [...vocab.entries()].sort((x, y) => compareCodePoints(x[0], y[0]));
  if (entries.length === 0) return '{}\n';
  return `{\n${entries.map(([k, v]) => `  ${JSON.stringify(k)}: ${v}`).join(',\n')}\n}\n`;
}

/** Text files are written atomically through the project's one implementation. */
export { writeTextAtomic as writeFileAtomic } from '../util/atomic.js';
