/**
 * The prepared-data record format and its JSONL file I/O. Output files are written atomically
 * (temp sibling, fsync, rename) so a crashed or interrupted prep never leaves a half-written dataset
 * that a later training run would silently accept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { FileFormatError, RadgradError } from '../errors.js';
import type { LabelValue } from './labels.js';
import { writeTextAtomic } from '../util/atomic.js';

export { writeTextAtomic };

/** One prepared example: the unit shared by prep, the dataset and evaluation. */
export interface ReportRecord {
  id: string;
  prompt: string;
  completion: string;
  labels: Record<string, LabelValue>;
}


/** Serialises records one JSON object per line (key order fixed, so output is byte-stable). */
export function formatJsonl(records: readonly ReportRecord[]): string {
  let s = '';
  for (const r of records) s += JSON.stringify({ id: r.id, prompt: r.prompt, completion: r.completion, labels: r.labels }) + '\n';
  return s;
}

/**
 * Refuses an output path that cannot become a file, before any work is done: an existing folder,
 * or a path below an existing file. Missing parent folders are fine (they are created on write).
 */
export function checkOutputFile(file: string, command: string, example: string): void {
  const abs = path.resolve(file);
  if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) {
    throw new RadgradError(`${command}: --out ${file} is a folder`, { hint: `--out names the JSONL file to write; pass a file path such as ${example}` });
  }
  for (let dir = path.dirname(abs); ; dir = path.dirname(dir)) {
    if (fs.existsSync(dir)) {
      if (!fs.statSync(dir).isDirectory()) {
        throw new RadgradError(`${command}: --out ${file} lies below ${dir}, which is a file, not a folder`, { hint: `pass a file path in a folder, such as ${example}` });
      }
      return;
    }
    if (path.dirname(dir) === dir) return;
  }
}

export function writeJsonlAtomic(file: string, records: readonly ReportRecord[]): void {
  writeTextAtomic(file, formatJsonl(records));
}

/**
 * Reads a JSONL file of records. Blank lines are skipped; a line that is not a JSON object with
 * string `prompt` and `completion` is an error naming the line (training on a silently shortened
 * dataset is worse than stopping).
 */
export function readJsonl(file: string): ReportRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new FileFormatError(file, `cannot read: ${(e as Error).message}`, {
      cause: e,
      hint: 'create it with `radgrad prep mimic` or `radgrad prep iu`',
    });
  }
  return parseJsonl(text, file);
}

export function parseJsonl(text: string, file = '<jsonl>'): ReportRecord[] {
  const out: ReportRecord[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new FileFormatError(file, `line ${i + 1}: invalid JSON (${(e as Error).message})`, { hint: 'each line must be one JSON object' });
    }
    if (typeof v !== 'object' || v === null || typeof (v as ReportRecord).prompt !== 'string' || typeof (v as ReportRecord).completion !== 'string') {
      throw new FileFormatError(file, `line ${i + 1}: expected an object with string "prompt" and "completion"`, {
        hint: 'records look like {"id", "prompt", "completion", "labels"}',
      });
    }
    const r = v as Partial<ReportRecord>;
    out.push({
      id: typeof r.id === 'string' ? r.id : String(r.id ?? `line${i + 1}`),
      prompt: r.prompt!,
      completion: r.completion!,
      labels: (typeof r.labels === 'object' && r.labels) || {},
    });
  }
  return out;
}

/**
 * The lines of a text stream (a file or stdin), numbered from 1, with a leading UTF-8 byte-order
 * mark dropped as readJsonl drops it: the line readers of generate, score and tokenize share it.
 */
export async function* numberedLines(input: NodeJS.ReadableStream): AsyncGenerator<{ text: string; line: number }> {
  let line = 0;
  for await (const raw of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    yield { text: line === 1 ? raw.replace(/^\uFEFF/, '') : raw, line };
  }
}

/** One non-blank JSONL line's value; `where` (file:line) and `hint` go into the error. */
export function parseJsonLine(text: string, where: string, hint: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RadgradError(`${where}: not valid JSON`, { hint });
  }
}

/** The string `field` of a JSONL record, or an error naming the line and the field. */
export function stringField(record: unknown, field: string, where: string, hint = 'choose the text field with --field <name>'): string {
  const v = record !== null && typeof record === 'object' ? (record as Record<string, unknown>)[field] : undefined;
  if (typeof v !== 'string') throw new RadgradError(`${where}: field "${field}" is missing or not a string`, { hint });
  return v;
}
