/** Shared CLI plumbing: GPU setup from global flags, error reporting with hints, clean shutdown. */
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
