/**
 * The package entry (src/index.ts) and the package.json exports map: what docs point users to is
 * importable — the ops, and the nn modules and initialisers as the `nn` namespace and the
 * 'radgrad/nn' subpath — without name clashes (nn.zeros is the initialiser, zeros the op).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as R from '../src/index.js';
import * as nnDirect from '../src/nn/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('the nn modules and initialisers are exported as R.nn', () => {
  for (const name of ['Module', 'Linear', 'LayerNorm', 'Embedding', 'Dropout', 'ModuleList', 'kaimingUniform', 'uniform', 'normal', 'zeros'] as const) {
    assert.equal(typeof R.nn[name], 'function', `R.nn.${name}`);
    assert.equal(R.nn[name], nnDirect[name], `R.nn.${name} is src/nn's`);
  }
  assert.notEqual(R.zeros, R.nn.zeros, 'the op zeros is not shadowed by the initialiser');
  // A module works from the entry alone.
  R.withBackend(R.cpuBackend(), () => {
    const lin = new R.nn.Linear(3, 2);
    const y = lin.forward(R.ones([4, 3]));
    assert.deepEqual(y.shape, [4, 2]);
  });
});

test("package.json exports '.' and './nn', each pointing at a built file of an existing source", () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; import: string }> };
  assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './nn']);
  assert.equal(pkg.exports['./nn']!.import, './dist/src/nn/index.js');
  for (const [key, e] of Object.entries(pkg.exports)) {
    const src = e.import.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts');
    assert.ok(existsSync(path.join(root, src)), `${key}: ${e.import} has no source ${src}`);
    assert.equal(e.types, e.import.replace(/\.js$/, '.d.ts'), `${key}: types next to the module`);
  }
});
