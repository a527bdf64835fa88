/**
 * A self-contained HTML training report: inline CSS and inline SVG charts, no scripts and no
 * network (a Content-Security-Policy meta tag forbids both), so the file can be opened from
 * disk, attached to an issue or archived with a run and still render the same.
 *
 * Every piece of user-supplied text (title, settings, prompts, generations, metric names) is
 * HTML-escaped; numbers are formatted by us. Charts cope with a single point, missing or
 * non-finite values (a NaN breaks the line and is counted in the caption) and huge ranges
 * (a log axis is chosen when positive data spans more than 3 decades).
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OpArgumentError } from '../errors.js';

export interface TrainingMetricPoint {
  step: number;
  epoch?: number;
  loss?: number;
  evalLoss?: number;
  lr?: number;
  tokensPerSec?: number;
  lossScale?: number;
  gradNorm?: number;
  /** Seconds since the start of training. */
  time?: number;
}

export interface TrainingSample {
  prompt: string;
  generated: string;
  reference?: string;
}

export interface TrainingReportInput {
  title: string;
  settings: Record<string, unknown>;
  metrics: TrainingMetricPoint[];
  samples?: TrainingSample[];
  /** Final evaluation metrics, e.g. { 'BLEU-4': 0.12, 'ROUGE-L F': 0.31, 'label micro-F1': 0.7 }. */
  evalMetrics?: Record<string, number>;
  /** Shown in the header; default: the time of rendering. */
  generatedAt?: Date | string;
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

// ---------------------------------------------------------------------------------------------
// Number formatting and axis ticks

/** Compact number for tables and cards: 4 significant digits, exponent for tiny/huge values. */
export function formatNumber(v: number | undefined): string {
  if (v === undefined) return '—';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(2).replace('e+', 'e');
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

function niceStep(range: number, target: number): number {
  const raw = range / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/** Labels for linear ticks in one consistent style per axis (plain, k/M suffix, or exponent). */
function tickLabels(values: number[], step: number): string[] {
  const maxAbs = Math.max(...values.map(Math.abs));
  if (maxAbs === 0) return values.map(() => '0');
  if (maxAbs >= 1e4 && maxAbs < 1e9) {
    const [div, suffix] = maxAbs >= 1e6 ? [1e6, 'M'] : [1e3, 'k'];
    const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step / div))));
    return values.map((v) => (v === 0 ? '0' : `${Number((v / div).toFixed(decimals))}${suffix}`));
  }
  if (maxAbs >= 1e9 || maxAbs < 1e-2) {
    const digits = Math.max(0, Math.min(6, Math.floor(Math.log10(maxAbs)) - Math.floor(Math.log10(step))));
    return values.map((v) => (v === 0 ? '0' : v.toExponential(digits).replace('e+', 'e')));
  }
  const decimals = Math.max(0, Math.min(10, -Math.floor(Math.log10(step))));
  return values.map((v) => v.toFixed(decimals));
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
  ticks: Array<{ v: number; label: string }>;
}

function linearAxis(lo: number, hi: number, target: number, integer: boolean): Axis {
  if (lo === hi) {
    // One value: centre it in a small window so the point is visible.
    const pad = integer ? 1 : lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const range = hi - lo;
  if (!Number.isFinite(range)) {
    const mid = lo / 2 + hi / 2;
    return { min: lo, max: hi, log: false, ticks: [lo, mid, hi].map((v) => ({ v, label: formatNumber(v) })) };
  }
  let step = niceStep(range, target);
  if (integer && step < 1) step = 1;
  const first = Math.floor(lo / step);
  const last = Math.ceil(hi / step);
  const values: number[] = [];
  for (let i = first; i <= last; i++) values.push(Math.abs(i * step) < step * 1e-9 ? 0 : i * step);
  const labels = tickLabels(values, step);
  const ticks = values.map((v, i) => ({ v, label: labels[i]! }));
  return { min: first * step, max: last * step, log: false, ticks };
}

function logAxis(lo: number, hi: number): Axis {
  let a = Math.floor(Math.log10(lo));
  let b = Math.ceil(Math.log10(hi));
  if (a === b) {
    a -= 1;
    b += 1;
  }
  const every = Math.max(1, Math.ceil((b - a) / 8));
  const ticks: Axis['ticks'] = [];
  for (let e = a; e <= b; e += every) ticks.push({ v: 10 ** e, label: e >= -3 && e <= 4 ? formatNumber(10 ** e) : `1e${e}` });
  return { min: 10 ** a, max: 10 ** b, log: true, ticks };
}

// ---------------------------------------------------------------------------------------------
// SVG line chart

interface Series {
  name: string;
  color: string;
  /** [x, y] pairs; y may be NaN/±Infinity (breaks the line) — undefined values are left out. */
  points: Array<[number, number]>;
  width?: number;
  opacity?: number;
  dashed?: boolean;
}

interface ChartSpec {
  id: string;
  title: string;
  yLabel: string;
  series: Series[];
  /** 'auto' (default): log when positive data spans > 3 decades. */
  logY?: boolean | 'auto';
}

const W = 560;
const H = 300;
const M = { left: 70, right: 16, top: 30, bottom: 44 };
const f2 = (v: number): string => (Math.round(v * 100) / 100).toString();

function renderChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => s.points);
  const finite = all.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const dropped = all.length - finite.length;
  const head = `<svg id="${escapeHtml(spec.id)}" class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${escapeHtml(spec.id)}-title" xmlns="http://www.w3.org/2000/svg"><title id="${escapeHtml(spec.id)}-title">${escapeHtml(spec.title)}</title>`;
  if (finite.length === 0) {
    return `${head}<rect class="plot-bg" x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}"/><text class="empty" x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text></svg>`;
  }
  const xs = finite.map((p) => p[0]);
  const ys = finite.map((p) => p[1]);
  const [xLo, xHi] = [Math.min(...xs), Math.max(...xs)];
  const [yLo, yHi] = [Math.min(...ys), Math.max(...ys)];
  const useLog = spec.logY === true || ((spec.logY ?? 'auto') === 'auto' && yLo > 0 && yHi / yLo > 1e3);
  const xAxis = linearAxis(xLo, xHi, 6, xs.every(Number.isInteger));
  const yAxis = useLog ? logAxis(yLo, yHi) : linearAxis(yLo, yHi, 5, false);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + ((x - xAxis.min) / (xAxis.max - xAxis.min)) * pw;
  const sy = (y: number): number => {
    const t = yAxis.log
      ? (Math.log10(y) - Math.log10(yAxis.min)) / (Math.log10(yAxis.max) - Math.log10(yAxis.min))
      : (y - yAxis.min) / (yAxis.max - yAxis.min);
    return M.top + (1 - t) * ph;
  };
  const parts: string[] = [head, `<rect class="plot-bg" x="${M.left}" y="${M.top}" width="${pw}" height="${ph}"/>`];
  // Grid, ticks and tick labels.
  for (const t of yAxis.ticks) {
    const y = f2(sy(t.v));
    parts.push(`<line class="grid" x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}"/>`);
    parts.push(`<line class="tick" x1="${M.left - 5}" x2="${M.left}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="tick-label y-tick" x="${M.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeHtml(t.label)}</text>`);
  }
  for (const t of xAxis.ticks) {
    const x = f2(sx(t.v));
    parts.push(`<line class="grid" x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}"/>`);
    parts.push(`<line class="tick" x1="${x}" x2="${x}" y1="${M.top + ph}" y2="${M.top + ph + 5}"/>`);
    parts.push(`<text class="tick-label x-tick" x="${x}" y="${M.top + ph + 18}" text-anchor="middle">${escapeHtml(t.label)}</text>`);
  }
  parts.push(`<line class="axis" x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}"/>`);
  parts.push(`<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}"/>`);
  parts.push(`<text class="axis-label" x="${M.left + pw / 2}" y="${H - 6}" text-anchor="middle">step</text>`);
  parts.push(
    `<text class="axis-label" transform="translate(14 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel)}${yAxis.log ? ' (log)' : ''}</text>`,
  );
  // Series: split at non-finite values so a NaN shows as a gap, not a misleading line.
  for (const s of spec.series) {
    const pts = [...s.points].filter(([x]) => Number.isFinite(x)).sort((a, b) => a[0] - b[0]);
    const runs: Array<Array<[number, number]>> = [[]];
    for (const p of pts) {
      if (Number.isFinite(p[1]) && (!yAxis.log || p[1] > 0)) runs[runs.length - 1]!.push(p);
      else if (runs[runs.length - 1]!.length) runs.push([]);
    }
    const style = `stroke="${s.color}" stroke-width="${s.width ?? 2}"${s.opacity ? ` stroke-opacity="${s.opacity}"` : ''}${s.dashed ? ' stroke-dasharray="6 4"' : ''}`;
    const cls = `series series-${escapeHtml(s.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase())}`;
    for (const run of runs) {
      if (run.length > 1) parts.push(`<polyline class="${cls}" fill="none" ${style} points="${run.map(([x, y]) => `${f2(sx(x))},${f2(sy(y))}`).join(' ')}"/>`);
      if (run.length === 1 || (pts.length <= 40 && !s.opacity)) {
        for (const [x, y] of run) parts.push(`<circle class="point" cx="${f2(sx(x))}" cy="${f2(sy(y))}" r="3" fill="${s.color}"/>`);
      }
    }
  }
  // Legend (top-right), only when there is more than one series.
  if (spec.series.length > 1) {
    let x = M.left + pw;
    const items = spec.series.map((s) => ({ s, w: 26 + s.name.length * 6.2 }));
    for (const { s, w } of items.reverse()) {
      x -= w + 6;
      parts.push(`<line x1="${f2(x)}" x2="${f2(x + 18)}" y1="16" y2="16" stroke="${s.color}" stroke-width="${s.width ?? 2}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}${s.opacity ? ` stroke-opacity="${s.opacity}"` : ''}/>`);
      parts.push(`<text class="legend" x="${f2(x + 22)}" y="16" dominant-baseline="middle">${escapeHtml(s.name)}</text>`);
    }
  }
  if (dropped > 0) {
    parts.push(`<text class="note" x="${M.left}" y="16" dominant-baseline="middle">${dropped} non-finite value${dropped > 1 ? 's' : ''} omitted</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------
// Page

type MetricKey = Exclude<keyof TrainingMetricPoint, 'step' | 'epoch' | 'time'>;

function seriesOf(metrics: readonly TrainingMetricPoint[], key: MetricKey): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const m of metrics) {
    const v = m[key];
    if (typeof v === 'number') out.push([m.step, v]);
  }
  return out;
}

function ema(points: Array<[number, number]>, beta: number): Array<[number, number]> {
  let acc: number | undefined;
  return [...points]
    .sort((a, b) => a[0] - b[0])
    .map(([x, y]) => {
      if (Number.isFinite(y)) acc = acc === undefined ? y : beta * acc + (1 - beta) * y;
      return [x, Number.isFinite(y) ? acc! : y];
    });
}

function formatSetting(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return formatNumber(sec);
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = Math.round(sec % 60);
  return h ? `${h}h ${m}m ${s}s` : m ? `${m}m ${s}s` : `${formatNumber(Math.round(sec * 10) / 10)}s`;
}

const CSS = `
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--card:#fff;--accent:#2563eb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
header{background:#0f172a;color:#f8fafc;padding:20px 32px}
header h1{margin:0;font-size:22px;font-weight:600}
header .sub{color:#cbd5e1;font-size:13px;margin-top:4px}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
section{margin-top:22px}
h2{font-size:16px;font-weight:600;margin:0 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px 6px}
figcaption{font-weight:600;font-size:13px;margin-bottom:2px}
svg.chart{width:100%;height:auto;display:block}
.plot-bg{fill:#fff}
.grid{stroke:#eef2f7;stroke-width:1}
.axis{stroke:#9ca3af;stroke-width:1}
.tick{stroke:#9ca3af;stroke-width:1}
.tick-label{fill:#4b5563;font-size:11px;font-variant-numeric:tabular-nums}
.axis-label{fill:#374151;font-size:12px}
.legend{fill:#374151;font-size:11px}
.note{fill:#b45309;font-size:11px}
.empty{fill:var(--muted);font-size:14px}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f1f5f9;font-weight:600;font-size:12px;color:#374151}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.key{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;white-space:nowrap}
td pre,td .text{margin:0;white-space:pre-wrap;word-break:break-word;font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.twocol{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:900px){.twocol{grid-template-columns:1fr}}
footer{color:var(--muted);font-size:12px;margin-top:28px}
`;

function card(k: string, v: string): string {
  return `<div class="card"><div class="k">${escapeHtml(k)}</div><div class="v">${escapeHtml(v)}</div></div>`;
}

function figure(spec: ChartSpec): string {
  return `<figure class="chart-box"><figcaption>${escapeHtml(spec.title)}</figcaption>${renderChart(spec)}</figure>`;
}

/** Renders the report as one HTML string (see the module comment). */
export function renderTrainingReport(input: TrainingReportInput): string {
  if (!input || typeof input !== 'object') throw new OpArgumentError('renderTrainingReport', 'input', 'an object', String(input));
  if (!Array.isArray(input.metrics)) throw new OpArgumentError('renderTrainingReport', 'metrics', 'an array', typeof input.metrics);
  const metrics = input.metrics.filter((m) => m && typeof m.step === 'number' && Number.isFinite(m.step));
  const title = String(input.title ?? 'Training report');
  const when = input.generatedAt instanceof Date ? input.generatedAt.toISOString() : (input.generatedAt ?? new Date().toISOString());

  const loss = seriesOf(metrics, 'loss');
  const evalLoss = seriesOf(metrics, 'evalLoss');
  const lastFinite = (pts: Array<[number, number]>): number | undefined => [...pts].reverse().find((p) => Number.isFinite(p[1]))?.[1];
  const bestEval = evalLoss.filter((p) => Number.isFinite(p[1])).sort((a, b) => a[1] - b[1])[0];
  const tps = seriesOf(metrics, 'tokensPerSec').filter((p) => Number.isFinite(p[1]));
  const lastStep = metrics.length ? Math.max(...metrics.map((m) => m.step)) : undefined;
  const lastEpoch = metrics.map((m) => m.epoch).filter((e): e is number => typeof e === 'number' && Number.isFinite(e)).pop();
  const lastTime = metrics.map((m) => m.time).filter((e): e is number => typeof e === 'number' && Number.isFinite(e)).pop();

  const cards = [
    card('Steps', lastStep === undefined ? '—' : formatNumber(lastStep)),
    ...(lastEpoch !== undefined ? [card('Epochs', formatNumber(lastEpoch))] : []),
    card('Final train loss', formatNumber(lastFinite(loss))),
    card('Best eval loss', bestEval ? `${formatNumber(bestEval[1])} @ ${formatNumber(bestEval[0])}` : '—'),
    card('Mean tokens/s', tps.length ? formatNumber(Math.round(tps.reduce((s, p) => s + p[1], 0) / tps.length)) : '—'),
    ...(lastTime !== undefined ? [card('Elapsed', formatDuration(lastTime))] : []),
  ];

  const lossSeries: Series[] = [];
  if (loss.length > 20) {
    lossSeries.push({ name: 'train loss (raw)', color: '#2563eb', points: loss, width: 1, opacity: 0.3 });
    lossSeries.push({ name: 'train loss (EMA 0.9)', color: '#2563eb', points: ema(loss, 0.9) });
  } else {
    lossSeries.push({ name: 'train loss', color: '#2563eb', points: loss });
  }
  lossSeries.push({ name: 'eval loss', color: '#ea580c', points: evalLoss, dashed: false });
  const charts: ChartSpec[] = [
    { id: 'chart-loss', title: 'Loss', yLabel: 'loss', series: lossSeries },
    { id: 'chart-lr', title: 'Learning rate', yLabel: 'learning rate', series: [{ name: 'lr', color: '#16a34a', points: seriesOf(metrics, 'lr') }], logY: false },
    { id: 'chart-tokens', title: 'Throughput', yLabel: 'tokens / s', series: [{ name: 'tokens/s', color: '#7c3aed', points: seriesOf(metrics, 'tokensPerSec') }] },
  ];
  const lossScale = seriesOf(metrics, 'lossScale');
  if (lossScale.length) charts.push({ id: 'chart-loss-scale', title: 'Loss scale', yLabel: 'loss scale', series: [{ name: 'loss scale', color: '#0891b2', points: lossScale }] });
  const gradNorm = seriesOf(metrics, 'gradNorm');
  if (gradNorm.length) charts.push({ id: 'chart-grad-norm', title: 'Gradient norm (pre-clip)', yLabel: 'grad norm', series: [{ name: 'grad norm', color: '#db2777', points: gradNorm }] });

  const evalRows = Object.entries(input.evalMetrics ?? {})
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td class="num">${escapeHtml(typeof v === 'number' ? (Number.isFinite(v) && Math.abs(v) < 1e6 ? v.toFixed(4) : formatNumber(v)) : String(v))}</td></tr>`)
    .join('');
  const settingRows = Object.entries(input.settings ?? {})
    .map(([k, v]) => `<tr><td class="key">${escapeHtml(k)}</td><td><span class="text">${escapeHtml(formatSetting(v))}</span></td></tr>`)
    .join('');
  const samples = input.samples ?? [];
  const hasRef = samples.some((s) => s.reference !== undefined);
  const sampleRows = samples
    .map(
      (s, i) =>
        `<tr><td class="num">${i + 1}</td><td><pre>${escapeHtml(s.prompt)}</pre></td><td><pre>${escapeHtml(s.generated)}</pre></td>${hasRef ? `<td><pre>${escapeHtml(s.reference ?? '')}</pre></td>` : ''}</tr>`,
    )
    .join('');

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><div class="sub">radgrad training report · generated ${escapeHtml(when)} · ${metrics.length} logged step${metrics.length === 1 ? '' : 's'}</div></header>
<main>
<section id="summary"><div class="cards">${cards.join('')}</div></section>
<section id="charts"><h2>Training curves</h2><div class="charts">${charts.map(figure).join('')}</div></section>
<div class="twocol">
<section id="eval-metrics"><h2>Evaluation metrics</h2>${evalRows ? `<table><thead><tr><th>Metric</th><th>Value</th></tr></thead><tbody>${evalRows}</tbody></table>` : '<p class="muted">No evaluation metrics recorded.</p>'}</section>
<section id="settings"><h2>Run settings</h2>${settingRows ? `<table><thead><tr><th>Setting</th><th>Value</th></tr></thead><tbody>${settingRows}</tbody></table>` : '<p class="muted">No settings recorded.</p>'}</section>
</div>
<section id="samples"><h2>Sample generations</h2>${
    sampleRows
      ? `<table><thead><tr><th>#</th><th>Prompt</th><th>Generated</th>${hasRef ? '<th>Reference</th>' : ''}</tr></thead><tbody>${sampleRows}</tbody></table>`
      : '<p class="muted">No samples recorded.</p>'
  }</section>
<footer>Self-contained report: no scripts, no network resources.</footer>
</main>
</body>
</html>
`;
}

/** Writes the report atomically: a temp file in the same folder, then rename over `file`. */
export async function writeTrainingReport(file: string, input: TrainingReportInput): Promise<void> {
  const html = renderTrainingReport(input);
  const dir = path.dirname(path.resolve(file));
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await writeFile(tmp, html, 'utf8');
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
