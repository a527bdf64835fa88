/** Shared CLI plumbing: GPU setup from global flags, error reporting with hints, clean shutdown. */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { RadgradError } from '../src/errors.js';
import { initWebGpuBackend } from '../src/backend/webgpu/index.js';
import { shutdownGpu } from '../src/gpu/device.js';
import type { Backend } from '../src/backend/types.js';

export interface GlobalOptions {
  adapter?: string;
  unsafeGpuFeatures?: boolean;
}

/** Global options of the root program (flags given before or after the subcommand). */
export function globalOptions(cmd: Command): GlobalOptions {
  let root = cmd;
  while (root.parent) root = root.parent;
  return root.opts<GlobalOptions>();
}

/** Initialises the WebGPU backend honouring --adapter / --unsafe-gpu-features. */
export async function startGpu(cmd: Command): Promise<Backend> {
  const g = globalOptions(cmd);
  return initWebGpuBackend({ ...(g.adapter ? { adapter: g.adapter } : {}), ...(g.unsafeGpuFeatures ? { unsafeFeatures: true } : {}) });
}

/** Prints an error with its hint and sets a failing exit code. */
export function reportError(e: unknown): void {
  const err = e as Error & { hint?: string };
  const isOurs = e instanceof RadgradError;
  process.stderr.write(`error: ${err?.message ?? String(e)}\n`);
  if (err?.hint) process.stderr.write(`hint: ${err.hint}\n`);
  else if (!isOurs) process.stderr.write(`hint: this looks like a bug in radgrad; rerun with RADGRAD_DEBUG=1 for the stack trace\n`);
  if (process.env.RADGRAD_DEBUG && err?.stack) process.stderr.write(err.stack + '\n');
  process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
}

/** Wraps a command action: errors are reported (never thrown raw) and the GPU is always shut down. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      reportError(e);
    } finally {
      await shutdownGpu().catch(() => undefined);
    }
  };
}

/** Whether two paths name the same file or folder (symlinks resolved where the paths exist). */
export function samePath(a: string, b: string): boolean {
  const real = (p: string) => (fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p));
  return real(a) === real(b);
}

/**
 * Checks, before any work, that `out` can be a folder the command writes into (created if missing,
 * an existing folder reused): refuses an existing file, and a path below a file (mkdir would fail
 * with ENOTDIR only after the work). `reuse` ends the hint: what happens to an existing folder.
 */
export function checkOutputFolder(out: string, flag = '--out', reuse = 'an existing folder is written into'): void {
  let p = path.resolve(out);
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch {
      /* missing: created by the write */
    }
    if (st) {
      if (st.isDirectory()) return;
      const what = p === path.resolve(out) ? `${flag} ${out} is a file, not a folder` : `${flag} ${out}: ${p} is a file, not a folder`;
      throw new RadgradError(what, { hint: `pass a folder path to ${flag} (it is created if missing; ${reuse})` });
    }
    const up = path.dirname(p);
    if (up === p) return;
    p = up;
  }
}

/**
 * Checks an output folder before any work is done: a file (or a path below one) is refused as by
 * checkOutputFolder, and so is a folder that is not empty unless `force` is set (the write then
 * replaces only the files named in `writes` and keeps the others, as save_pretrained does). Same
 * rule as `synth --out`.
 */
export function checkOutputDir(out: string, o: { flag?: string; force?: boolean; writes: string }): void {
  const flag = o.flag ?? '--out';
  checkOutputFolder(out, flag, 'an existing one must be empty unless --force');
  if (!fs.existsSync(out)) return; // created by the write
  const entries = fs.readdirSync(out).sort();
  if (!entries.length || o.force) return;
  const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, ... (${entries.length} entries)` : '');
  throw new RadgradError(`${flag} ${out} exists and is not empty (${shown})`, {
    hint: `choose a new folder, or pass --force to write ${o.writes} into it (files of those names are replaced, all others are kept)`,
  });
}
