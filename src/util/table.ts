/** Plain aligned text tables (benchmarks, `radgrad tune`): one row per record, numbers right-aligned. */

type Row = Record<string, string | number>;

/** Numbers with 3-4 significant digits; integers as they are. */
export function formatCell(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a >= 0.01) return v.toFixed(3);
  return v.toPrecision(3);
}

/** A plain aligned text table (columns: union of the rows' keys, in first-seen order). */
export function formatTable(rows: readonly Row[]): string {
  if (!rows.length) return '(no rows)';
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const cells = rows.map((r) => cols.map((c) => formatCell(r[c])));
  const width = cols.map((c, j) => Math.max(c.length, ...cells.map((row) => row[j]!.length)));
  const numeric = cols.map((c) => rows.every((r) => r[c] === undefined || typeof r[c] === 'number'));
  const line = (vals: string[]) => vals.map((v, j) => (numeric[j] ? v.padStart(width[j]!) : v.padEnd(width[j]!))).join('  ').trimEnd();
  return [line(cols), width.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
