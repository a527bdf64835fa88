// The command line as a user meets it: `radgrad --help`, every subcommand's --help with an example,
// `radgrad info` (text and --json), and a failing command exiting non-zero with a hint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot, sharedPath } from '../../src/util/paths.js';
import { demoPaths } from '../../src/demo/demo.js';

const root = packageRoot();
function radgrad(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/index.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
}

const COMMANDS = ['synth', 'prep', 'tokenize', 'score', 'pretrain', 'train', 'generate', 'eval', 'merge', 'bench', 'tune', 'info', 'demo'];

test('radgrad --help lists every subcommand', () => {
  const r = radgrad('--help');
  assert.equal(r.status, 0, r.stderr);
  for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c}\\b`, 'm'), `missing ${c} in:\n${r.stdout}`);
});

test('every subcommand has --help with an example', () => {
  for (const c of COMMANDS) {
    const r = radgrad(c, '--help');
    assert.equal(r.status, 0, `${c} --help failed: ${r.stderr}`);
    assert.match(r.stdout, /Examples?:/, `${c} --help has no example:\n${r.stdout}`);
    assert.match(r.stdout, /\$ (npx )?radgrad /, `${c} --help example does not show a command`);
  }
});

test('--help examples refer to paths the demo writes (radgrad-demo/...)', () => {
  const written = new Set(Object.values(demoPaths('radgrad-demo')));
  let seen = 0;
  for (const c of COMMANDS) {
    for (const [p] of radgrad(c, '--help').stdout.matchAll(/radgrad-demo\/[\w./-]*\w/g)) {
      seen++;
      assert.ok(written.has(p), `${c} --help refers to ${p}, which the demo does not write (it writes ${[...written].join(', ')})`);
    }
  }
  assert.ok(seen >= 4, 'the demo paths are used in the examples');
});

test('radgrad info prints the adapter, and --json parses', () => {
  const r = radgrad('info');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^adapter\s+\S+/m);
  assert.match(r.stdout, /maxStorageBufferBindingSize\s+\d+/);
  const j = radgrad('info', '--json');
  assert.equal(j.status, 0, j.stderr);
  const report = JSON.parse(j.stdout) as { adapter: { description: string }; features: string[]; limits: Record<string, number>; capabilities: Record<string, unknown> };
  assert.ok(report.adapter.description.length > 0);
  assert.ok(Array.isArray(report.features));
  assert.ok(report.limits.maxBufferSize! > 0);
  assert.equal(typeof report.capabilities.f16, 'boolean');
});

test('a failing command exits non-zero with an error and a hint', () => {
  const r = radgrad('score', '--model', path.join(root, 'no-such-model-dir'), '--ids', '2,17,45');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: /m);
  assert.match(r.stderr, /^hint: /m);
});

test('train --model: a missing folder says so; a model without tokenizer files points at --tokenizer', { skip: !sharedPath('golden', 'tiny_biogpt') && 'shared/golden/tiny_biogpt is absent' }, (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-cli-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  const data = path.join(d, 'd.jsonl');
  fs.writeFileSync(data, JSON.stringify({ id: 'a', prompt: 'Edema: 1. \nFindings:', completion: ' Edema.' }) + '\n');
  const none = radgrad('train', '--model', path.join(d, 'no-such-model-dir'), '--data', data, '--out', path.join(d, 'run'));
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /^error: .*no-such-model-dir: no such folder$/m);
  const bare = radgrad('train', '--model', sharedPath('golden', 'tiny_biogpt')!, '--data', data, '--out', path.join(d, 'run'));
  assert.notEqual(bare.status, 0);
  assert.match(bare.stderr, /^error: .*tiny_biogpt: holds a model but no tokenizer \(vocab\.json and merges\.txt missing\)$/m);
  assert.match(bare.stderr, /^hint: pass the tokenizer folder with --tokenizer <dir>/m);
  assert.doesNotMatch(bare.stderr, /fromDir/);
});

test('an adapter name that matches no adapter says so and points at radgrad info, not at installing a driver', () => {
  const r = radgrad('--adapter', 'no-such-gpu-xyz', 'info');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: radgrad: no WebGPU adapter found \(no adapter name contains 'no-such-gpu-xyz'; /m);
  assert.match(r.stderr, /Available adapters:/, "Dawn's list of the adapters there are");
  assert.match(r.stderr, /^hint: the adapter name filter 'no-such-gpu-xyz' \(--adapter \/ RADGRAD_ADAPTER\) matches none of the adapters listed: run `radgrad info` without it/m);
  assert.doesNotMatch(r.stderr, /install a Vulkan driver/);
});

test('generate --attn-implementation flash gives the golden greedy ids; a bad value exits with a hint', { skip: !sharedPath('golden', 'tiny_biogpt') && 'shared/golden/tiny_biogpt is absent' }, () => {
  const model = sharedPath('golden', 'tiny_biogpt')!;
  const r = radgrad('generate', '--model', model, '--prompt-ids', '2,17,45,300', '--max-new-tokens', '4', '--attn-implementation', 'flash', '--json');
  assert.equal(r.status, 0, r.stderr);
  const row = JSON.parse(r.stdout.trim().split('\n')[0]!) as { sequence: number[] };
  assert.deepEqual(row.sequence, [2, 17, 45, 300, 300, 300, 300, 300]); // golden_tiny.json greedy
  assert.match(r.stderr, /attention: flash/);
  const bad = radgrad('generate', '--model', model, '--prompt-ids', '2,17', '--attn-implementation', 'sdpa');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--attn-implementation must be one of eager, flash/);
  assert.match(bad.stderr, /^hint: /m);
});
