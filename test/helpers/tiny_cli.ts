/**
 * Shared fixture of the CLI tests on the tiny golden BioGPT (test/cli/*.test.ts): the CLI run as a
 * child process, and a temporary copy of the tiny model with an optional generation_config.json
 * and a two-word tokenizer whose ids fit the tiny model's 512-token vocabulary (a one-letter word
 * is one token: "a", "b", or <unk>).
 */
import type { TestContext } from 'node:test';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot, sharedPath } from '../../src/util/paths.js';

/** The tiny golden model folder (../shared/golden/tiny_biogpt), or undefined when it is absent. */
export const TINY = sharedPath('golden', 'tiny_biogpt');
/** A node:test skip reason when the tiny model is absent. */
export const SKIP_NO_TINY: string | false = !TINY && 'shared/golden/tiny_biogpt is absent';

/** `radgrad <args>` in a child process (cwd: the package root). */
export function radgrad(...args: string[]): SpawnSyncReturns<string> {
  const root = packageRoot();
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/index.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
}

/** Writes the two-word tokenizer (vocab.json + merges.txt) into `dir`. */
export function writeTinyTokenizer(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify({ '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, 'a</w>': 4, 'b</w>': 5 }));
  fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\n');
}

/** A temporary folder (removed after the test), `prefix` naming it. */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `radgrad-${prefix}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A temporary folder holding model/ (the tiny model's config.json and weights, plus the given
 * generation_config.json and, unless `tokenizer` is false, the two-word tokenizer).
 */
export function tinyModel(t: TestContext, o: { prefix?: string; generationConfig?: Record<string, unknown>; tokenizer?: boolean } = {}): { dir: string; model: string } {
  const dir = tempDir(t, o.prefix ?? 'tiny');
  const model = path.join(dir, 'model');
  fs.mkdirSync(model);
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(TINY!, f), path.join(model, f));
  if (o.generationConfig) fs.writeFileSync(path.join(model, 'generation_config.json'), JSON.stringify(o.generationConfig));
  if (o.tokenizer !== false) writeTinyTokenizer(model);
  return { dir, model };
}
