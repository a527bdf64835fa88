/**
 * Dropout with a counter-based mask. Each call draws a fresh seed from the module's (baseSeed,
 * call counter) pair, so a run is reproducible from reseed() and two calls never share a mask.
 * Identity in eval mode or for p = 0 (no kernel launched).
 */
import { OpArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { dropout } from '../ops/nn/dropout.js';
import { Module, nextInitSeed } from './module.js';

export class Dropout extends Module {
  readonly p: number;
  baseSeed: number;
  /** Calls made in train mode since the last reseed (part of the mask seed). */
  calls = 0;

  constructor(p = 0.5, opts: { seed?: number } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new OpArgumentError('Dropout', 'p', 'a probability in [0, 1]', String(p));
    this.p = p;
    this.baseSeed = (opts.seed ?? nextInitSeed()) >>> 0;
  }

  /** Restarts the mask sequence from `seed`. */
  reseed(seed: number): void {
    this.baseSeed = seed >>> 0;
    this.calls = 0;
  }

  /** The seed the next call will use. */
  nextSeed(): number {
    let h = (this.baseSeed ^ Math.imul(this.calls + 1, 0x9e3779b1)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const seed = this.nextSeed();
    this.calls++;
    return dropout(x, this.p, { seed, training: true });
  }
}

/** 32-bit FNV-1a of a string mixed with a seed (per-path dropout seeds). */
function mixSeed(seed: number, path: string): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/**
 * Reseeds every Dropout under `root` from (seed, module path) and restarts their call counters, so
 * a training run's masks are reproducible from one number whatever order modules were built in.
 */
export function reseedDropout(root: Module, seed: number): void {
  for (const [p, m] of root.namedModules()) if (m instanceof Dropout) m.reseed(mixSeed(seed >>> 0, p));
}
