/**
 * fastBPE-style byte-pair encoding exactly as Hugging Face's BioGptTokenizer.bpe: split a word into
 * code points, mark the last one with "</w>", then repeatedly take the adjacent pair with the lowest
 * merge rank and merge all its non-overlapping occurrences left to right, until no ranked pair is
 * left. Results are cached per word.
 */

export const END_OF_WORD = '</w>';

/** Cap on cached words; the cache is cleared when reached (results do not depend on it). */
const MAX_CACHE = 200_000;

/** Pair keys pack two symbol ids into one number (ids stay below 2^22). */
const KEY_SCALE = 0x400000;

export class BytePairEncoder {
  /** Symbol strings and their ids: the pieces and results of every merge. */
  private readonly symbolIds = new Map<string, number>();
  private readonly symbols: string[] = [];
  /** pair key -> rank (a later duplicate line wins, as with Python's dict(zip(...))). */
  private readonly pairRank = new Map<number, number>();
  /** pair key -> id of the merged symbol. */
  private readonly pairMerged = new Map<number, number>();
  private readonly cache = new Map<string, readonly string[]>();
  /** Merges in rank order, for saving. */
  readonly merges: readonly (readonly [string, string])[];

  constructor(merges: readonly (readonly [string, string])[]) {
    merges.forEach(([a, b], rank) => {
      const key = this.id(a) * KEY_SCALE + this.id(b);
      this.pairRank.set(key, rank);
      this.pairMerged.set(key, this.id(a + b));
    });
    const ordered = [...this.pairRank.entries()].sort((x, y) => x[1] - y[1]);
    this.merges = ordered.map(([key]) => [this.symbols[Math.floor(key / KEY_SCALE)]!, this.symbols[key % KEY_SCALE]!] as const);
  }

  private id(symbol: string): number {
    let id = this.symbolIds.get(symbol);
    if (id === undefined) {
      id = this.symbols.length;
      if (id >= KEY_SCALE) throw new RangeError('BytePairEncoder: too many distinct symbols');
      this.symbols.push(symbol);
      this.symbolIds.set(symbol, id);
    }
    return id;
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** BPE pieces of one Moses token (non-empty, no whitespace). */
  encodeWord(token: string): readonly string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const chars = Array.from(token);
    if (chars.length === 0) return [];
    chars[chars.length - 1] += END_OF_WORD;
    if (chars.length === 1) return chars;
    // Characters no merge mentions get a negative placeholder (-1 - position) and never pair.
    let word = chars.map((c, i) => this.symbolIds.get(c) ?? -1 - i);
    const { pairRank, pairMerged } = this;
    while (word.length > 1) {
      let best = Infinity;
      let bestKey = -1;
      for (let i = 0; i + 1 < word.length; i++) {
        const a = word[i]!;
        const b = word[i + 1]!;
        if (a < 0 || b < 0) continue;
        const key = a * KEY_SCALE + b;
        const r = pairRank.get(key);
        if (r !== undefined && r < best) {
          best = r;
          bestKey = key;
        }
      }
      if (bestKey < 0) break;
      const first = Math.floor(bestKey / KEY_SCALE);
      const second = bestKey % KEY_SCALE;
      const mergedId = pairMerged.get(bestKey)!;
      const merged: number[] = [];
      for (let i = 0; i < word.length; ) {
        if (i + 1 < word.length && word[i] === first && word[i + 1] === second) {
          merged.push(mergedId);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    // HF's "\n  </w>" -> "\n</w>" special case cannot arise: Moses tokens never hold whitespace.
    return this.remember(token, word.map((id) => (id < 0 ? chars[-1 - id]! : this.symbols[id]!)));
  }

  private remember(token: string, pieces: readonly string[]): readonly string[] {
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(token, pieces);
    return pieces;
  }
}
