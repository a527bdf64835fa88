// `radgrad eval` flag checks that need no GPU: they fail before the model is loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RadgradError } from '../../src/errors.js';
import { runEval } from '../../cli/commands/eval.js';

test('eval --limit must be a positive integer (abc, 0, -1, 1.5 are refused, not read as 1)', async (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-evalcli-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  const data = path.join(d, 'e.jsonl');
  fs.writeFileSync(data, JSON.stringify({ id: 'a', prompt: 'Edema: 1. \nFindings:', completion: 'x' }) + '\n');
  for (const limit of ['abc', '0', '-1', '1.5', '']) {
    await assert.rejects(
      runEval({ model: path.join(d, 'no-model'), data, out: path.join(d, 'out'), limit, batchSize: '8' }, () => undefined),
      (e: unknown) => e instanceof RadgradError && e.message === `--limit must be a positive integer, got ${JSON.stringify(limit)}` && /--limit 32/.test(e.hint!),
      `--limit ${limit}`,
    );
  }
  assert.equal(fs.existsSync(path.join(d, 'out')), false);
});
