/** The backend new tensors are created on. Tests switch to the CPU reference with setBackend(). */
import { RadgradError } from '../errors.js';
import type { Backend } from './types.js';

let current: Backend | undefined;

export function setBackend(b: Backend): void {
  current = b;
}

export function getBackend(): Backend {
  if (!current) throw new RadgradError('no backend selected: call await initWebGpuBackend() (or setBackend(cpuBackend()) for the CPU reference)');
  return current;
}

export function hasBackend(): boolean {
  return current !== undefined;
}

/** Runs fn with `b` as the current backend, restoring the previous one afterwards. */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = current;
  current = b;
  try {
    return fn();
  } finally {
    current = prev;
  }
}
