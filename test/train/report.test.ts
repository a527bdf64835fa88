import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { escapeHtml, formatNumber, renderTrainingReport, writeTrainingReport, type TrainingMetricPoint, type TrainingReportInput } from '../../src/train/report.js';
import { packageRoot } from '../../src/util/paths.js';
import { OpArgumentError } from '../../src/errors.js';

/** A plausible 300-step LoRA run: warmup + cosine lr, decaying noisy loss, eval every 50 steps. */
function syntheticRun(): TrainingReportInput {
  const metrics: TrainingMetricPoint[] = [];
  for (let s = 1; s <= 300; s++) {
    const lr = s < 30 ? (2e-4 * s) / 30 : 2e-4 * 0.5 * (1 + Math.cos((Math.PI * (s - 30)) / 270));
    metrics.push({
      step: s,
      epoch: s / 100,
      loss: 3.2 * Math.exp(-s / 80) + 1.1 + 0.15 * Math.sin(s * 1.7) * Math.exp(-s / 200),
      lr,
      tokensPerSec: 20000 + 1500 * Math.sin(s / 7),
      lossScale: 2 ** (16 - Math.floor(s / 100)),
      gradNorm: 2 * Math.exp(-s / 120) + 0.3,
      time: s * 0.9,
      ...(s % 50 === 0 ? { evalLoss: 3.0 * Math.exp(-s / 90) + 1.25 } : {}),
    });
  }
  return {
    title: 'BioGPT LoRA r=8 — IU X-ray (synthetic demo run)',
    settings: { model: 'microsoft/biogpt', loraRank: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'], lr: 2e-4, batchSize: 4, seqLen: 512, dtype: 'float16', lossScaling: 'dynamic', seed: 1234 },
    metrics,
    samples: [
      {
        prompt: 'Atelectasis: 1; Lung Opacity: 1; Pneumonia: uncertain. \nFindings:',
        generated: 'There is left basilar opacity, likely atelectasis; pneumonia cannot be excluded. No pleural effusion or pneumothorax. Heart size is normal.\nImpression: Left basilar opacity, atelectasis versus pneumonia.',
        reference: 'Left basilar airspace opacity may represent atelectasis or early pneumonia. Heart size normal. No effusion.',
      },
      {
        prompt: 'No Finding: 1. \nFindings:',
        generated: 'The heart size and mediastinal contours are within normal limits. The lungs are clear. No pneumothorax or pleural effusion.\nImpression: No acute cardiopulmonary abnormality.',
        reference: 'Heart size and pulmonary vascularity within normal limits. Lungs are clear.',
      },
    ],
    evalMetrics: { 'BLEU-4': 0.1234, 'ROUGE-L F': 0.3456, 'label micro-F1': 0.712, 'label macro-F1': 0.58, 'eval loss': 1.31 },
    generatedAt: '2025-01-01T00:00:00Z',
  };
}

test('report structure: charts, tables, self-contained', () => {
  const html = renderTrainingReport(syntheticRun());
  for (const id of ['chart-loss', 'chart-lr', 'chart-tokens', 'chart-loss-scale', 'chart-grad-norm']) {
    assert.match(html, new RegExp(`<svg id="${id}"[^>]*class="chart"`), id);
  }
  assert.equal((html.match(/<polyline /g) ?? []).length >= 6, true);
  assert.match(html, /class="tick-label x-tick"[^>]*>300</); // x ticks end at the last step
  assert.match(html, /class="tick-label y-tick"[^>]*>2\.0e-4</); // lr ticks share one exponent style
  assert.match(html, />step</);
  assert.match(html, /<th>Reference<\/th>/);
  assert.match(html, /BLEU-4<\/td><td class="num">0\.1234/);
  assert.match(html, /loraRank<\/td><td><span class="text">8/);
  assert.match(html, /1\.357 @ 300/); // best eval loss card
  assert.doesNotMatch(html, /<script|<link|src=|href=|url\(/i);
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
});

test('report escapes all user text (XSS-safe)', () => {
  const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>&'`;
  const html = renderTrainingReport({
    title: evil,
    settings: { [evil]: evil, nested: { a: evil } },
    metrics: [{ step: 1, loss: 1 }],
    samples: [{ prompt: evil, generated: `</pre>${evil}`, reference: evil }],
    evalMetrics: { [evil]: 0.5 },
  });
  assert.doesNotMatch(html, /<script|<img|<\/pre><script/i);
  assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
  assert.equal(escapeHtml(`a<b>"c"&'d'`), 'a&lt;b&gt;&quot;c&quot;&amp;&#39;d&#39;');
});

test('charts cope with a single point, NaN, missing values, huge ranges and no data', () => {
  const one = renderTrainingReport({ title: 't', settings: {}, metrics: [{ step: 5, loss: 2.5, lr: 1e-4 }] });
  assert.match(one, /<svg id="chart-loss"[\s\S]*?<circle class="point"/);
  assert.match(one, /<svg id="chart-tokens"[\s\S]*?>no data</); // tokens/s never logged
  assert.doesNotMatch(one, /chart-loss-scale|NaN|Infinity/); // loss scale only when present; no bad numbers in SVG
  const nan = renderTrainingReport({
    title: 't',
    settings: {},
    metrics: [{ step: 1, loss: 3 }, { step: 2, loss: Number.NaN }, { step: 3 }, { step: 4, loss: 2 }, { step: 5, loss: Infinity }, { step: 6, loss: 1.5 }],
  });
  assert.match(nan, /2 non-finite values omitted/);
  const lossSvg = nan.slice(nan.indexOf('<svg id="chart-loss"'), nan.indexOf('</svg>', nan.indexOf('<svg id="chart-loss"')));
  assert.doesNotMatch(lossSvg, /NaN|Infinity/);
  const huge = renderTrainingReport({ title: 't', settings: {}, metrics: [{ step: 0, loss: 1e9 }, { step: 10, loss: 1e-3 }, { step: 20, loss: 2 }] });
  assert.match(huge, /loss \(log\)/);
  assert.match(huge, />1e9</);
  const neg = renderTrainingReport({ title: 't', settings: {}, metrics: [{ step: 0, gradNorm: -1e12 }, { step: 1, gradNorm: 1e12 }] });
  assert.match(neg, /<svg id="chart-grad-norm"/);
  assert.doesNotMatch(neg, /NaN/);
  const empty = renderTrainingReport({ title: 't', settings: {}, metrics: [] });
  assert.match(empty, /<svg id="chart-loss"[\s\S]*?>no data</);
  assert.throws(() => renderTrainingReport({ title: 't', settings: {}, metrics: 'x' as unknown as [] }), OpArgumentError);
  assert.equal(formatNumber(0.000123), '1.23e-4');
  assert.equal(formatNumber(undefined), '—');
});

test('writeTrainingReport writes atomically (no temp file left behind)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'radgrad-report-'));
  try {
    const file = path.join(dir, 'sub', 'report.html');
    await writeTrainingReport(file, syntheticRun());
    writeFileSync(path.join(dir, 'sub', 'keep.txt'), 'x');
    await writeTrainingReport(file, { title: 'second', settings: {}, metrics: [] }); // replaces
    assert.match(readFileSync(file, 'utf8'), /<title>second<\/title>/);
    assert.deepEqual(readdirSync(path.join(dir, 'sub')).sort(), ['keep.txt', 'report.html']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('report renders in headless Chromium (DOM + screenshot)', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the browser check`);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'radgrad-chromium-'));
  try {
    const file = path.join(dir, 'report.html');
    await writeTrainingReport(file, syntheticRun());
    const run = (extra: string[]): ReturnType<typeof spawnSync> => {
      const profile = mkdtempSync(path.join(dir, 'profile-'));
      return spawnSync(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, ...extra, `file://${file}`], { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 << 20 });
    };
    const dom = run(['--dump-dom']);
    assert.equal(dom.status, 0, `chromium --dump-dom failed: ${dom.stderr}`);
    const out = String(dom.stdout);
    for (const id of ['chart-loss', 'chart-lr', 'chart-tokens', 'chart-loss-scale', 'chart-grad-norm']) assert.match(out, new RegExp(`<svg id="${id}"`), id);
    assert.match(out, /<polyline /);
    assert.match(out, /<table>/);

    const png = path.join(dir, 'report.png');
    const shot = run([`--screenshot=${png}`, '--window-size=1200,1600']);
    assert.equal(shot.status, 0, `chromium --screenshot failed: ${shot.stderr}`);
    const buf = readFileSync(png);
    assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]); // PNG signature
    assert.equal(buf.readUInt32BE(16), 1200); // IHDR width
    assert.equal(buf.readUInt32BE(20), 1600); // IHDR height
    assert.ok(buf.length > 20_000, `screenshot suspiciously small (${buf.length} bytes): blank page?`);
    // RADGRAD_UPDATE_SCREENSHOT=1 refreshes the screenshot committed in docs/.
    if (process.env.RADGRAD_UPDATE_SCREENSHOT === '1') copyFileSync(png, path.join(packageRoot(), 'docs', 'report-screenshot.png'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
