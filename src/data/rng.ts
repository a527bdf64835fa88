/**
 * A small seeded PRNG (mulberry32 state step, seeds mixed with a splitmix32 finaliser) so synthetic
 * data, shuffles and splits are reproducible across runs and platforms. Not cryptographic.
 */

/** splitmix32-style avalanche: spreads nearby seeds (0, 1, 2...) into unrelated states. */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Combines seed parts (numbers or strings) into one 32-bit seed; order matters. */
export function hashSeed(...parts: Array<number | string>): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    if (typeof p === 'number') {
      // Split into two 32-bit halves so seeds above 2^32 still differ.
      const lo = p >>> 0;
      const hi = Math.floor(p / 4294967296) >>> 0;
      h = mix32(h ^ lo);
      h = mix32(h ^ hi);
    } else {
      for (let i = 0; i < p.length; i++) h = Math.imul(h ^ p.charCodeAt(i), 0x01000193);
      h = mix32(h ^ p.length);
    }
  }
  return h >>> 0;
}

export class Rng {
  private state: number;

  constructor(seed: number | string = 0) {
    this.state = typeof seed === 'number' ? mix32(seed >>> 0) : hashSeed(seed);
  }

  /** A derived, independent generator (e.g. one per epoch or per study). */
  fork(...parts: Array<number | string>): Rng {
    return new Rng(hashSeed(this.state, ...parts));
  }

  /** Next 32-bit unsigned integer (mulberry32). */
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (!items.length) throw new Error('Rng.pick: empty list');
    return items[this.int(items.length)]!;
  }

  /** Picks by weight; weights need not sum to 1. */
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.next() * total;
    for (const [v, w] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return items[items.length - 1]![0];
  }

  /** Fisher–Yates in place; returns the same array. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
    return arr;
  }
}

/** A permutation of 0..n-1 for (seed, epoch): same inputs, same order; another epoch, another order. */
export function permutation(n: number, seed: number | string, epoch = 0): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  return new Rng(hashSeed(typeof seed === 'number' ? seed : hashSeed(seed), 'epoch', epoch)).shuffle(idx);
}
