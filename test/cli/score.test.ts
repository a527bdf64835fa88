/**
 * `radgrad score`: per-input loss/perplexity against the transformers golden loss (tiny model),
 * --labels-from, --text/--jsonl through the tokenizer, --dump (safetensors logits), --json, errors
 * with hints (no tokenizer, bad ids, --adapter until LoRA lands), and the command's registration.
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { setBackend } from '../../src/backend/registry.js';
import { shutdownGpu } from '../../src/gpu/device.js';
import { RadgradError } from '../../src/errors.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { sharedPath } from '../../src/util/paths.js';
import { register, runScore, type ScoreCliOptions } from '../../cli/commands/score.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const goldenFile = sharedPath('golden', 'golden_tiny.safetensors');
const goldenJson = sharedPath('golden', 'golden_tiny.json');
const vocabDir = sharedPath('data', 'biogpt-vocab');
const SKIP = !modelDir || !goldenFile || !goldenJson ? 'shared/golden/tiny_biogpt or golden_tiny.* is absent' : false;

after(() => shutdownGpu());

function tmp(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-score-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function score(opts: ScoreCliOptions) {
  let text = '';
  const sink = new Writable({
    write(chunk, _e, cb) {
      text += String(chunk);
      cb();
    },
  });
  const result = await runScore(opts, sink);
  return { result, text };
}

// The golden batch: row 0 scores positions 4.. (prompt of 4), row 1 is 7 real tokens scoring 3..
const ROW0 = [2, 17, 45, 300, 12, 99, 7, 250, 33, 5, 400, 21];
const ROW1 = [2, 88, 14, 123, 77, 310, 9];

describe('radgrad score', { skip: SKIP }, () => {
  it('token-weighted loss of the golden rows equals transformers\' loss (WebGPU)', async (t) => {
    await initWebGpuBackend();
    const golden = JSON.parse(fs.readFileSync(goldenJson!, 'utf8')) as { loss: number };
    const dir = tmp(t);
    const dump = path.join(dir, 'logits.safetensors');
    const a = await score({ model: modelDir!, ids: ROW0.join(','), labelsFrom: 4, dump });
    const b = await score({ model: modelDir!, ids: ROW1.join(','), labelsFrom: '3', json: true });
    assert.equal(a.result.items[0]!.scored, 8);
    assert.equal(b.result.items[0]!.scored, 4);
    const total = (8 * a.result.items[0]!.loss! + 4 * b.result.items[0]!.loss!) / 12;
    const rel = Math.abs(total - golden.loss) / golden.loss;
    console.log(`[score] golden loss ${golden.loss}, radgrad ${total} (rel ${rel.toExponential(2)})`);
    assert.ok(rel < 1e-5);
    assert.match(a.text, /#0 ids: tokens 12, scored 8, loss \d+\.\d{4}, perplexity/);
    assert.match(a.text, /logits written to/);
    const parsed = JSON.parse(b.text) as { items: { perplexity: number; loss: number }[] };
    assert.ok(Math.abs(parsed.items[0]!.perplexity - Math.exp(parsed.items[0]!.loss)) < 1e-9);

    const r = SafetensorsReader.open(dump);
    const g = SafetensorsReader.open(goldenFile!);
    const got = r.readF32('logits.0');
    const want = g.readF32('logits').subarray(0, 12 * 512);
    let d = 0;
    let m = 0;
    for (let i = 0; i < want.length; i++) {
      d = Math.max(d, Math.abs(got[i]! - want[i]!));
      m = Math.max(m, Math.abs(want[i]!));
    }
    assert.ok(d / m < 1e-4, `dumped logits rel error ${d / m}`);
    assert.deepEqual(Array.from(r.read('input_ids.0').data as Int32Array), ROW0);
    r.close();
    g.close();
  });

  it('--text and --jsonl go through the tokenizer (CPU reference)', async (t) => {
    if (!vocabDir) return t.skip('shared/data/biogpt-vocab is absent');
    setBackend(cpuBackend());
    const dir = tmp(t);
    const file = path.join(dir, 'in.jsonl');
    // With a UTF-8 BOM and CRLF line ends, as Windows tools write them (readJsonl accepts both too).
    fs.writeFileSync(file, '\uFEFF' + JSON.stringify({ findings: 'The patient is in the hospital.' }) + '\r\n\r\n' + JSON.stringify({ findings: 'There is no evidence of the disease.' }) + '\r\n');
    const j = await score({ model: modelDir!, tokenizer: vocabDir, jsonl: file, field: 'findings' });
    assert.equal(j.result.items.length, 2);
    assert.deepEqual(j.result.items.map((it) => it.tokens), [8, 9]);
    assert.match(j.text, /total: scored 15/);
    const one = await score({ model: modelDir!, tokenizer: vocabDir, text: 'The patient is in the hospital.' });
    const ids = await score({ model: modelDir!, ids: '2,18,125,21,10,6,503,4' });
    assert.ok(Math.abs(one.result.items[0]!.loss! - ids.result.items[0]!.loss!) < 1e-9);
    assert.ok(Math.abs(one.result.items[0]!.loss! - j.result.items[0]!.loss!) < 1e-9);
  });

  it('errors say what to do', async () => {
    setBackend(cpuBackend());
    const rejects = (opts: ScoreCliOptions, re: RegExp) =>
      assert.rejects(score(opts), (e: Error) => {
        assert.ok(e instanceof RadgradError, e.name);
        assert.match(e.message, re);
        assert.ok((e as RadgradError).hint, 'has a hint');
        return true;
      });
    await rejects({ ids: '2,3' }, /--model <dir> is required/);
    await rejects({ model: modelDir!, text: 'x' }, /no vocab\.json/);
    await rejects({ model: modelDir!, ids: '2,3', text: 'x' }, /exactly one of/);
    await rejects({ model: modelDir!, ids: '2,x' }, /comma-separated/);
    await rejects({ model: modelDir!, ids: '2,9999' }, /outside the vocabulary/);
    await rejects({ model: modelDir!, ids: '2,3', labelsFrom: '-1' }, /--labels-from/);
    await rejects({ model: modelDir!, ids: '2,3', adapter: '/nonexistent/adapter' }, /adapter folder .* does not exist/);
  });

  it('--adapter applies a PEFT LoRA adapter: logits match transformers\' merged model', async (t) => {
    const adapter = sharedPath('golden', 'tiny_lora_trained');
    if (!adapter) return t.skip('shared/golden/tiny_lora_trained is absent');
    setBackend(cpuBackend());
    const dir = tmp(t);
    const dump = path.join(dir, 'lora.safetensors');
    await score({ model: modelDir!, ids: ROW0.join(','), adapter, dump });
    const r = SafetensorsReader.open(dump);
    const g = SafetensorsReader.open(goldenFile!);
    const got = r.readF32('logits.0');
    const want = g.readF32('merged_logits').subarray(0, 12 * 512);
    let d = 0;
    let m = 0;
    for (let i = 0; i < want.length; i++) {
      d = Math.max(d, Math.abs(got[i]! - want[i]!));
      m = Math.max(m, Math.abs(want[i]!));
    }
    console.log(`[score] --adapter tiny_lora_trained vs merged_logits: rel ${(d / m).toExponential(2)}`);
    assert.ok(d / m < 1e-4, `rel error ${d / m}`);
    r.close();
    g.close();
  });

  it('registers `score` with its options', () => {
    const program = new Command().option('--adapter <name>');
    register(program);
    const cmd = program.commands.find((c) => c.name() === 'score')!;
    assert.ok(cmd);
    for (const flag of ['--model', '--adapter', '--text', '--jsonl', '--field', '--ids', '--labels-from', '--json', '--dump']) {
      assert.ok(cmd.options.some((o) => o.long === flag), flag);
    }
  });
});
