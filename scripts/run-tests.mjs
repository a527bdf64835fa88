#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (through tsx), after a type check.
// Usage: npm test [-- <path filter substrings...>]   e.g. npm test -- tokenizer ops/matmul
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const skipTypecheck = process.argv.includes('--no-typecheck');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = walk(path.join(root, 'test'));
if (filters.length) files = files.filter((f) => filters.some((s) => path.relative(root, f).includes(s)));
if (!files.length) {
  console.error('no test files matched', filters);
  process.exit(1);
}
if (!skipTypecheck) {
  const tc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root, '--noEmit'], { stdio: 'inherit' });
  if (tc.status !== 0) process.exit(tc.status ?? 1);
}
// One test file at a time by default (2-core CI, one software adapter); a GPU machine with many
// cores can set RADGRAD_TEST_CONCURRENCY (each file is its own process with its own device).
const concurrency = Number(process.env.RADGRAD_TEST_CONCURRENCY ?? 1) || 1;
const r = spawnSync(
  process.execPath,
  ['--expose-gc', '--import', 'tsx', '--import', './test/fast_check_seed.mjs', '--test', `--test-concurrency=${concurrency}`, ...files.map((f) => path.relative(root, f))],
  // Tests run the built-in kernel choices, not the ones `radgrad tune` saved on this machine.
  { stdio: 'inherit', cwd: root, env: { ...process.env, RADGRAD_TUNING: process.env.RADGRAD_TUNING ?? 'off' } },
);
process.exit(r.status ?? 1);
