/**
 * Scoped release (like tfjs `tidy`): every tensor created inside tidy() that is neither returned
 * nor kept is disposed when the scope ends. JavaScript's GC does not free GPU buffers promptly, so
 * training loops run each step inside tidy() and keep only parameters, gradients and optimizer state.
 */
import { OpArgumentError } from '../errors.js';

export interface Disposable {
  readonly id: number;
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Array<Set<Disposable>> = [];

export function trackTensor(t: Disposable): void {
  const s = scopes[scopes.length - 1];
  if (s) s.add(t);
}

/** Removes a tensor from every open scope so that it outlives them. Returns it. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (!value || typeof value !== 'object' || depth > 4) return;
  if ('dispose' in value && 'id' in value && 'isDisposed' in value) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}

/** Runs fn and disposes the tensors it created, except those in its result (arrays/plain objects searched). */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) if (!t.isDisposed) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    // What fn made before its first await goes now (it would otherwise leak); the rest of fn runs
    // outside any scope, and its outcome is dropped (the error below is the one to act on).
    for (const t of scope) if (!t.isDisposed) t.dispose();
    result.catch(() => {});
    throw new OpArgumentError('tidy', 'fn', 'a synchronous function (await outside of tidy(), or use one tidy() per synchronous part)', 'a function that returned a Promise (async)');
  }
  const kept = new Set<Disposable>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else if (!t.isDisposed) t.dispose();
  }
  return result;
}

/** Number of open tidy scopes (for tests). */
export function scopeDepth(): number {
  return scopes.length;
}
