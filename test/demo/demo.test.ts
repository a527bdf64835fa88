/**
 * `radgrad demo --quick` end to end into a temp dir: every output exists, the tokenizer loads, and
 * the LoRA stage lowered the held-out loss (unseen label combinations) by at least 3 % relative
 * (seeded run; measured ≈ 6.0 % on lavapipe). Needs nothing from ../shared.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { runDemo } from '../../src/demo/demo.js';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';

after(() => shutdownGpu());

describe('radgrad demo --quick', () => {
  it('writes data, tokenizer, base model, adapter, report, samples and metrics; loss falls', { timeout: 300_000 }, async () => {
    await initWebGpuBackend();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-demo-'));
    try {
      const lines: string[] = [];
      const r = await runDemo({ out, quick: true, log: (l) => lines.push(l) });
      console.log(`[demo --quick] ${r.seconds.toFixed(1)} s, loss ${r.lossBefore.toFixed(3)} -> ${r.lossAfter.toFixed(3)}, int8 ${r.int8}, micro F1 ${r.microF1.toFixed(3)}`);
      for (const f of [
        'data/reports.jsonl', 'tokenizer/vocab.json', 'tokenizer/merges.txt', 'base/config.json', 'base/model.safetensors',
        'lora/adapter/adapter_config.json', 'lora/adapter/adapter_model.safetensors', 'lora/report.html', 'samples.jsonl', 'metrics.json',
      ]) assert.ok(fs.existsSync(path.join(out, f)), `missing ${f}`);
      const tok = BioGptTokenizer.fromDir(path.join(out, 'tokenizer'));
      assert.deepEqual(tok.encode('').slice(0, 1), [2]);
      const drop = (r.lossBefore - r.lossAfter) / r.lossBefore;
      assert.ok(drop >= 0.03, `held-out loss fell by ${(100 * drop).toFixed(1)} % (< 3 %): ${r.lossBefore} -> ${r.lossAfter}`);
      assert.ok(r.pretrainLoss[1] < r.pretrainLoss[0], 'pre-training loss did not fall');
      const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as { labelConsistency: { micro: { f1: number } } };
      assert.equal(typeof metrics.labelConsistency.micro.f1, 'number');
      assert.ok(lines.some((l) => l.includes('outputs:')));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
