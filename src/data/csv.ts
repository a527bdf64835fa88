/**
 * RFC 4180 CSV, streaming. Quoted fields may hold delimiters, doubled quotes and line breaks; records
 * end at LF, CRLF or a lone CR; a leading BOM is dropped. The parser is lenient so one bad row never
 * sinks a 200k-row file: stray quotes are kept as text and reported, and an unterminated quote is
 * reported and parsing resumes on the line after the one where the quote opened (otherwise the rest
 * of the file would vanish into one field).
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';

export interface CsvRecord {
  fields: string[];
  /** 1-based physical line where the record starts. */
  line: number;
}

export type CsvIssueKind = 'unterminated-quote' | 'stray-quote' | 'text-after-quote';

export interface CsvIssue {
  kind: CsvIssueKind;
  /** 1-based physical line the issue points at. */
  line: number;
  message: string;
  /** For unterminated quotes: the record was dropped (its lines are lost, the rest is re-parsed). */
  dropped: boolean;
}

export interface CsvOptions {
  delimiter?: string;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

const enum S {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted, // saw `"` inside a quoted field: an escaped quote or the closing quote
  AfterCR, // a CR ended a record; swallow one LF if it follows
}

export class CsvParser {
  private readonly delim: string;
  private buf = ''; // unconsumed input, starting at the current record's first character
  private pos = 0; // scan position in buf
  private state = S.FieldStart;
  private fields: string[] = [];
  private field = '';
  private fieldQuoted = false;
  private line = 1; // physical line at pos
  private recLine = 1;
  private quoteOpenLine = 0;
  private quoteOpenPos = -1; // index in buf of the opening quote of the current quoted field
  private started = false;
  private out: CsvRecord[] = [];
  readonly issues: CsvIssue[] = [];

  constructor(options: CsvOptions = {}) {
    this.delim = options.delimiter ?? ',';
    if (this.delim.length !== 1 || this.delim === '"' || this.delim === '\n' || this.delim === '\r') {
      throw new Error(`CsvParser: delimiter must be one character other than quote/CR/LF, got ${JSON.stringify(this.delim)}`);
    }
  }

  /** Feeds a chunk; returns the records it completed. */
  push(chunk: string): CsvRecord[] {
    if (!this.started && chunk.length) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    this.buf += chunk;
    this.scan();
    return this.take();
  }

  /** Flushes the last record (no trailing newline needed) and recovers from an unterminated quote. */
  end(): CsvRecord[] {
    for (;;) {
      if (this.state === S.Quoted) {
        // Unterminated: drop the record and re-parse from the line after the opening quote.
        this.issues.push({
          kind: 'unterminated-quote',
          line: this.quoteOpenLine,
          message: `unterminated quoted field opened on line ${this.quoteOpenLine} (record starting on line ${this.recLine}); record dropped, parsing resumed on the next line`,
          dropped: true,
        });
        const nl = findLineEnd(this.buf, this.quoteOpenPos);
        const rest = nl < 0 ? '' : this.buf.slice(nl);
        this.resetRecord();
        this.buf = rest;
        this.pos = 0;
        this.line = this.quoteOpenLine + (nl < 0 ? 0 : 1);
        this.recLine = this.line;
        this.scan();
        continue;
      }
      if (this.state === S.Unquoted || this.state === S.QuoteInQuoted || this.fields.length || this.fieldQuoted) {
        this.endRecord();
      }
      this.state = S.FieldStart;
      return this.take();
    }
  }

  private take(): CsvRecord[] {
    const r = this.out;
    this.out = [];
    return r;
  }

  private resetRecord(): void {
    this.fields = [];
    this.field = '';
    this.fieldQuoted = false;
    this.state = S.FieldStart;
    this.quoteOpenPos = -1;
  }

  private endRecord(): void {
    this.fields.push(this.field);
    // A physically empty line is not a record (also makes a trailing newline harmless).
    if (!(this.fields.length === 1 && this.field === '' && !this.fieldQuoted)) {
      this.out.push({ fields: this.fields, line: this.recLine });
    }
    this.fields = [];
    this.field = '';
    this.fieldQuoted = false;
  }

  private scan(): void {
    const buf = this.buf;
    const d = this.delim.charCodeAt(0);
    let i = this.pos;
    let recStart = 0; // index in buf where the current (unfinished) record starts
    // Unquoted runs and quoted runs are sliced in one go rather than appended char by char.
    let runFrom = this.state === S.Unquoted || this.state === S.Quoted ? i : -1;
    const flushRun = (to: number) => {
      if (runFrom >= 0 && to > runFrom) this.field += buf.slice(runFrom, to);
      runFrom = -1;
    };
    const endRecordAt = (c: number, next: number) => {
      this.line++;
      this.state = c === CR ? S.AfterCR : S.FieldStart;
      this.endRecord();
      recStart = next;
      this.recLine = this.line;
    };
    const endField = () => {
      this.fields.push(this.field);
      this.field = '';
      this.fieldQuoted = false;
      this.state = S.FieldStart;
    };
    for (; i < buf.length; i++) {
      // Char codes, not buf[i]: indexing a two-byte string allocates a string per character.
      const c = buf.charCodeAt(i);
      if (this.state === S.AfterCR) {
        this.state = S.FieldStart;
        if (c === LF) {
          recStart = i + 1;
          continue;
        }
      }
      switch (this.state) {
        case S.FieldStart:
          if (c === QUOTE) {
            this.state = S.Quoted;
            this.fieldQuoted = true;
            this.quoteOpenPos = i;
            this.quoteOpenLine = this.line;
            runFrom = i + 1;
          } else if (c === d) endField();
          else if (c === LF || c === CR) endRecordAt(c, i + 1);
          else {
            this.state = S.Unquoted;
            runFrom = i;
          }
          break;
        case S.Unquoted:
          if (c === d) {
            flushRun(i);
            endField();
          } else if (c === LF || c === CR) {
            flushRun(i);
            endRecordAt(c, i + 1);
          } else if (c === QUOTE) {
            this.issues.push({ kind: 'stray-quote', line: this.line, message: `line ${this.line}: quote inside an unquoted field, kept as text`, dropped: false });
          }
          break;
        case S.Quoted:
          if (c === QUOTE) {
            flushRun(i);
            this.state = S.QuoteInQuoted;
          } else if (c === CR || (c === LF && buf.charCodeAt(i - 1) !== CR)) {
            // A CRLF inside a field is one line; the CR before it is always still in buf.
            this.line++;
          }
          break;
        case S.QuoteInQuoted:
          if (c === QUOTE) {
            this.state = S.Quoted; // doubled quote: the second one is content
            runFrom = i;
          } else if (c === d) endField();
          else if (c === LF || c === CR) endRecordAt(c, i + 1);
          else {
            this.issues.push({ kind: 'text-after-quote', line: this.line, message: `line ${this.line}: text after a closing quote, kept as part of the field`, dropped: false });
            this.state = S.Unquoted;
            runFrom = i;
          }
          break;
      }
    }
    flushRun(i);
    // Keep only the unfinished record (needed to recover from an unterminated quote).
    if (recStart > 0) {
      this.buf = buf.slice(recStart);
      this.quoteOpenPos -= recStart;
    }
    this.pos = this.buf.length;
  }
}

function findLineEnd(s: string, from: number): number {
  for (let i = Math.max(0, from); i < s.length; i++) {
    const c = s[i];
    if (c === '\n') return i + 1;
    if (c === '\r') return s[i + 1] === '\n' ? i + 2 : i + 1;
  }
  return -1;
}

/** Parses a whole string. */
export function parseCsv(text: string, options?: CsvOptions): { records: CsvRecord[]; issues: CsvIssue[] } {
  const p = new CsvParser(options);
  const records = p.push(text);
  records.push(...p.end());
  return { records, issues: p.issues };
}

/** Opens a file as a UTF-8 text stream, gunzipping when it starts with the gzip magic (whatever its name). */
export async function openTextStream(file: string): Promise<Readable> {
  const fh = await fs.promises.open(file, 'r');
  const magic = Buffer.alloc(2);
  let n = 0;
  try {
    n = (await fh.read(magic, 0, 2, 0)).bytesRead;
  } finally {
    await fh.close();
  }
  const raw = fs.createReadStream(file);
  const gz = n === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  const stream: Readable = gz ? raw.pipe(zlib.createGunzip()) : raw;
  if (gz) raw.on('error', (e) => stream.destroy(e));
  stream.setEncoding('utf8'); // decodes multi-byte characters split across chunks correctly
  return stream;
}

/** Streams records from a (possibly gzipped) CSV file; issues are collected on `issues`. */
export async function* readCsvFile(file: string, issues: CsvIssue[], options?: CsvOptions): AsyncGenerator<CsvRecord> {
  const p = new CsvParser(options);
  const stream = await openTextStream(file);
  try {
    for await (const chunk of stream) {
      yield* p.push(chunk as string);
      drain(p, issues);
    }
    yield* p.end();
    drain(p, issues);
  } finally {
    stream.destroy();
  }
}

function drain(p: CsvParser, into: CsvIssue[]): void {
  if (p.issues.length) into.push(...p.issues.splice(0));
}

/** One CSV line (no terminator). Quotes only when needed; a lone empty field is quoted so it survives. */
export function formatCsvRow(fields: readonly string[], delimiter = ','): string {
  if (fields.length === 1 && fields[0] === '') return '""';
  return fields
    .map((f) => (f.includes('"') || f.includes(delimiter) || f.includes('\n') || f.includes('\r') || (f.length && f.charCodeAt(0) === 0xfeff) ? `"${f.replace(/"/g, '""')}"` : f))
    .join(delimiter);
}
