// Short version of the Dawn stability stress (npm run stress runs 20 processes × 500 steps):
// processes doing mixed dispatches, pipeline creations, readbacks and forced GC must all exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../src/util/paths.js';

test('stress: 3 processes × 80 mixed steps with forced GC exit cleanly', () => {
  const root = packageRoot();
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(root, 'scripts/stress.ts'), '--procs', '3', '--steps', '80'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(r.signal, null, `stress runner killed by ${r.signal}\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, `stress failed:\n${r.stdout}\n${r.stderr.slice(-2000)}`);
  assert.match(r.stdout, /3 passed, 0 failed/);
});
