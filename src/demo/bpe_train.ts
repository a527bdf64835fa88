/**
 * Trains a small BPE vocabulary in BioGPT's (fastBPE / Hugging Face) layout from raw texts, so the
 * demo needs no downloaded vocabulary: words come from the same Moses tokenizer BioGptTokenizer
 * uses, the last symbol of a word carries `</w>`, merges are written in rank order, and
 * vocab.json starts with `<s> <pad> </s> <unk>` (ids 0–3).
 */
import path from 'node:path';
import { mosesTokenize } from '../tokenizer/moses.js';
import { writeTextAtomic } from '../data/jsonl.js';

export interface BpeTrainResult {
  vocab: Map<string, number>;
  merges: Array<[string, string]>;
  wordTypes: number;
}

/** Learns up to numMerges merges (fewer when no pair occurs twice). Deterministic: ties go to the smaller pair. */
export function trainBpe(texts: Iterable<string>, numMerges: number): BpeTrainResult {
  const freq = new Map<string, number>();
  for (const t of texts) for (const w of mosesTokenize(t)) freq.set(w, (freq.get(w) ?? 0) + 1);
  const words: Array<{ sym: string[]; n: number }> = [];
  for (const [w, n] of [...freq].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const chars = [...w];
    chars[chars.length - 1] += '</w>';
    words.push({ sym: chars, n });
  }
  const symbols = new Set<string>();
  for (const w of words) for (const s of w.sym) symbols.add(s);
  const merges: Array<[string, string]> = [];
  for (let m = 0; m < numMerges; m++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.sym.length; i++) {
      const k = `${w.sym[i]} ${w.sym[i + 1]}`;
      counts.set(k, (counts.get(k) ?? 0) + w.n);
    }
    let best = '';
    let bn = 1; // a pair seen once compresses nothing worth a vocabulary entry
    for (const [k, n] of counts) if (n > bn || (n === bn && n > 1 && k < best)) [best, bn] = [k, n];
    if (!best) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    symbols.add(a + b);
    for (const w of words) {
      const s = w.sym;
      if (s.length < 2) continue;
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(s[i]!);
      }
      w.sym = out;
    }
  }
  const vocab = new Map<string, number>([['<s>', 0], ['<pad>', 1], ['</s>', 2], ['<unk>', 3]]);
  // Single characters first (sorted), then merged symbols in merge order, as a readable vocabulary.
  const singles = [...symbols].filter((s) => [...s.replace(/<\/w>$/, '')].length === 1).sort();
  for (const s of singles) if (!vocab.has(s)) vocab.set(s, vocab.size);
  for (const [a, b] of merges) if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
  return { vocab, merges, wordTypes: words.length };
}

/** Writes vocab.json + merges.txt (atomically) so BioGptTokenizer.fromDir(dir) loads them. */
export function writeBpeFiles(dir: string, r: BpeTrainResult): void {
  writeTextAtomic(path.join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(r.vocab), null, 0) + '\n');
  writeTextAtomic(path.join(dir, 'merges.txt'), r.merges.map(([a, b]) => `${a} ${b} 1\n`).join(''));
}
