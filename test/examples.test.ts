/**
 * examples/mlp.ts (also shown in docs/MLP_EXAMPLE.md) runs against the sources and its loss falls.
 * The example imports 'radgrad' (the built package); here that import is pointed at src/ in a
 * temporary copy, so the test needs no build.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('docs/MLP_EXAMPLE.md shows examples/mlp.ts verbatim, in at most 20 lines', () => {
  const code = readFileSync(path.join(root, 'examples/mlp.ts'), 'utf8');
  const doc = readFileSync(path.join(root, 'docs/MLP_EXAMPLE.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.equal(block, code, 'the ```ts block of docs/MLP_EXAMPLE.md differs from examples/mlp.ts');
  assert.ok(code.trimEnd().split('\n').length <= 20, 'the example is longer than 20 lines');
});

test('examples/mlp.ts runs and its loss falls', () => {
  const code = readFileSync(path.join(root, 'examples/mlp.ts'), 'utf8');
  const src = pathToFileURL(path.join(root, 'src/index.js')).href;
  const patched = code.replace(/from 'radgrad'/g, `from '${src}'`);
  assert.notEqual(patched, code, "the example no longer imports from 'radgrad'");
  // .mts: the temporary directory has no package.json saying "type": "module".
  const dir = mkdtempSync(path.join(tmpdir(), 'radgrad-example-'));
  try {
    const file = path.join(dir, 'mlp.mts');
    writeFileSync(file, patched);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 240_000 });
    assert.equal(r.status, 0, `example exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
    const losses = [...r.stdout.matchAll(/^step (\d+): loss ([\d.e+-]+)$/gm)].map((m) => Number(m[2]));
    assert.equal(losses.length, 5, `expected 5 loss lines, got:\n${r.stdout}`);
    assert.ok(losses.every(Number.isFinite));
    assert.ok(losses[4]! < 0.05 * losses[0]!, `loss fell only from ${losses[0]} to ${losses[4]}`);
    console.log(r.stdout.trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
