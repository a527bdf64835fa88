import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { CsvParser, formatCsvRow, parseCsv, readCsvFile, type CsvIssue, type CsvRecord } from '../../src/data/csv.js';

const rows = (text: string) => parseCsv(text).records.map((r) => r.fields);
const lines = (text: string) => parseCsv(text).records.map((r) => r.line);

/** Feeds the text in the given pieces, to check chunk boundaries do not matter. */
function parseChunked(text: string, cuts: number[]): { records: CsvRecord[]; issues: CsvIssue[] } {
  const p = new CsvParser();
  const records: CsvRecord[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    records.push(...p.push(text.slice(prev, c)));
    prev = c;
  }
  records.push(...p.push(text.slice(prev)));
  records.push(...p.end());
  return { records, issues: p.issues };
}

test('csv: plain rows, line numbers, no trailing newline', () => {
  assert.deepEqual(rows('a,b,c\n1,2,3\n4,5,6'), [['a', 'b', 'c'], ['1', '2', '3'], ['4', '5', '6']]);
  assert.deepEqual(lines('a,b,c\n1,2,3\n4,5,6'), [1, 2, 3]);
});

test('csv: quoted delimiters and newlines keep their record together', () => {
  const text = 'id,text,n\nx,"a,b","line1\nline2\nline3",7\ny,z,w\n';
  assert.deepEqual(rows(text), [['id', 'text', 'n'], ['x', 'a,b', 'line1\nline2\nline3', '7'], ['y', 'z', 'w']]);
  assert.deepEqual(lines(text), [1, 2, 5]);
});

test('csv: escaped quotes, empty quoted fields, quotes only at field start', () => {
  assert.deepEqual(rows('"he said ""hi""",2\n"",""\n""""'), [['he said "hi"', '2'], ['', ''], ['"']]);
  assert.deepEqual(rows('a,,c\n,,\n'), [['a', '', 'c'], ['', '', '']]);
});

test('csv: CRLF and lone CR line endings; CRLF inside quotes kept raw and counted once', () => {
  assert.deepEqual(rows('a,b\r\nc,d\r\n'), [['a', 'b'], ['c', 'd']]);
  assert.deepEqual(rows('a,b\rc,d\r'), [['a', 'b'], ['c', 'd']]);
  const text = 'h1,h2\r\n"x\r\ny",2\r\nlast,3\r\n';
  assert.deepEqual(rows(text), [['h1', 'h2'], ['x\r\ny', '2'], ['last', '3']]);
  assert.deepEqual(lines(text), [1, 2, 4]);
});

test('csv: BOM is dropped only at the start; blank lines are skipped; a lone "" is a record', () => {
  assert.deepEqual(rows('\uFEFFuid,x\n1,2'), [['uid', 'x'], ['1', '2']]);
  assert.deepEqual(rows('a\n\n\nb\n""\n'), [['a'], ['b'], ['']]);
  assert.deepEqual(lines('a\n\n\nb\n'), [1, 4]);
});

test('csv: unterminated quote is reported with its line, the record dropped, later rows kept', () => {
  const { records, issues } = parseCsv('a,b\n1,"oops\n2,3\n4,5\n');
  assert.deepEqual(records.map((r) => [r.line, r.fields]), [[1, ['a', 'b']], [3, ['2', '3']], [4, ['4', '5']]]);
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.kind, 'unterminated-quote');
  assert.equal(issues[0]!.line, 2);
  assert.equal(issues[0]!.dropped, true);
});

test('csv: unterminated quote after a valid multi-line field resumes after the opening line', () => {
  const { records, issues } = parseCsv('h\n"ok\nstill",x,"bad\nnext,1\nlast,2');
  assert.deepEqual(records.map((r) => [r.line, r.fields]), [[1, ['h']], [4, ['next', '1']], [5, ['last', '2']]]);
  assert.equal(issues[0]!.line, 3);
});

test('csv: unterminated quote on the last line loses nothing else', () => {
  const { records, issues } = parseCsv('a,b\n1,2\n3,"4');
  assert.deepEqual(records.map((r) => r.fields), [['a', 'b'], ['1', '2']]);
  assert.equal(issues.length, 1);
});

test('csv: stray quotes and text after a closing quote are kept as text and reported', () => {
  const a = parseCsv('ab"c,d\n');
  assert.deepEqual(a.records[0]!.fields, ['ab"c', 'd']);
  assert.equal(a.issues[0]!.kind, 'stray-quote');
  const b = parseCsv('"ab"c,d\n');
  assert.deepEqual(b.records[0]!.fields, ['abc', 'd']);
  assert.equal(b.issues[0]!.kind, 'text-after-quote');
  assert.equal(b.issues[0]!.dropped, false);
});

test('csv: chunk boundaries never change the result (every split of a tricky input)', () => {
  const text = '\uFEFFa,"b\r\n""c""",d\r\ne,f\rg,"h,i"\n"open\n';
  const whole = parseCsv(text);
  for (let i = 0; i <= text.length; i++) {
    for (const j of [i, Math.min(text.length, i + 1), Math.min(text.length, i + 3)]) {
      const got = parseChunked(text, [i, j]);
      assert.deepEqual(got.records, whole.records, `cuts ${i},${j}`);
      assert.deepEqual(got.issues, whole.issues, `cuts ${i},${j}`);
    }
  }
});

test('csv: custom delimiter', () => {
  assert.deepEqual(parseCsv('a;"b;c"\n', { delimiter: ';' }).records[0]!.fields, ['a', 'b;c']);
  assert.throws(() => new CsvParser({ delimiter: '"' }));
});

const field = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\n', '\r', '\r\n', 'é', '😀', '\t', ';') }),
  fc.string(),
);
const table = fc.array(fc.array(field, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 });

test('csv property: format → parse round-trips random fields, for LF and CRLF, in any chunking', () => {
  fc.assert(
    fc.property(table, fc.boolean(), fc.array(fc.nat(), { maxLength: 4 }), (t, crlf, rawCuts) => {
      const text = t.map((r) => formatCsvRow(r)).join(crlf ? '\r\n' : '\n') + (crlf ? '\r\n' : '\n');
      const cuts = rawCuts.map((c) => c % (text.length + 1));
      const got = parseChunked(text, cuts);
      assert.deepEqual(got.records.map((r) => r.fields), t);
      assert.deepEqual(got.issues, []);
    }),
    { numRuns: 300 },
  );
});

test('csv property: arbitrary input never throws and every record is accounted for by line', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r') , maxLength: 60 }), (text) => {
      const { records, issues } = parseCsv(text);
      for (const r of records) assert.ok(r.line >= 1 && r.fields.length >= 1);
      for (const is of issues) assert.ok(is.line >= 1);
    }),
    { numRuns: 500 },
  );
});

test('csv: readCsvFile streams plain and gzipped files identically', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-csv-'));
  try {
    const big = ['id,text'];
    for (let i = 0; i < 5000; i++) big.push(formatCsvRow([String(i), i % 7 ? `row ${i}` : `multi\nline "${i}", é`]));
    const text = big.join('\r\n') + '\r\n';
    fs.writeFileSync(path.join(dir, 'a.csv'), text);
    fs.writeFileSync(path.join(dir, 'a.csv.gz'), zlib.gzipSync(text));
    const read = async (f: string) => {
      const out: string[][] = [];
      const issues: CsvIssue[] = [];
      for await (const r of readCsvFile(path.join(dir, f), issues)) out.push(r.fields);
      assert.deepEqual(issues, []);
      return out;
    };
    const plain = await read('a.csv');
    assert.equal(plain.length, 5001);
    assert.deepEqual(plain[8], ['7', 'multi\nline "7", é']);
    assert.deepEqual(await read('a.csv.gz'), plain);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
