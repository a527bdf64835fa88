/**
 * Logits processors and warpers applied on the host to one step's scores, [rows, V] row-major, in
 * transformers' order (repetition penalty, no-repeat n-gram, min new tokens; then, when sampling,
 * temperature, top-k, top-p). Scores are float32 as in torch; each op rounds to float32.
 */
export interface ProcessorConfig {
  repetitionPenalty: number;
  noRepeatNgramSize: number;
  minNewTokens: number;
  eosTokenIds: readonly number[];
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  /** Tokens every warper keeps at least (transformers: 2 for beam sampling, else 1). */
  minTokensToKeep: number;
}

/** Applies the processors to scores (in place). seqs[r] is row r's full sequence so far (prompt + new, padding included). */
export function processScores(scores: Float32Array, V: number, seqs: readonly (readonly number[])[], promptLength: number, c: ProcessorConfig): void {
  const rows = seqs.length;
  for (let r = 0; r < rows; r++) {
    const row = scores.subarray(r * V, (r + 1) * V);
    const seq = seqs[r]!;
    if (c.repetitionPenalty !== 1) repetitionPenalty(row, seq, c.repetitionPenalty);
    if (c.noRepeatNgramSize > 0) noRepeatNgram(row, seq, c.noRepeatNgramSize);
    if (c.minNewTokens > 0 && seq.length - promptLength < c.minNewTokens) for (const e of c.eosTokenIds) if (e < V) row[e] = -Infinity;
    if (c.doSample) {
      if (c.temperature !== 1) for (let v = 0; v < V; v++) row[v] = row[v]! / c.temperature;
      if (c.topK > 0) topK(row, Math.max(c.topK, c.minTokensToKeep));
      if (c.topP < 1) topP(row, c.topP, c.minTokensToKeep);
    }
  }
}

/** CTRL's penalty on every token already in the sequence (each once): negative ×p, positive ÷p. */
export function repetitionPenalty(row: Float32Array, seq: readonly number[], p: number): void {
  const seen = new Set<number>();
  for (const t of seq) {
    if (seen.has(t) || t < 0 || t >= row.length) continue;
    seen.add(t);
    const s = row[t]!;
    row[t] = s < 0 ? s * p : s / p;
  }
}

/** Bans every token that would complete an n-gram already present in the sequence. */
export function noRepeatNgram(row: Float32Array, seq: readonly number[], n: number): void {
  const L = seq.length;
  if (L + 1 < n) return;
  const start = L - n + 1; // the last n-1 tokens are the prefix to match
  for (let i = 0; i + n <= L; i++) {
    let match = true;
    for (let j = 0; j < n - 1; j++) {
      if (seq[i + j] !== seq[start + j]) {
        match = false;
        break;
      }
    }
    if (match) {
      const banned = seq[i + n - 1]!;
      if (banned >= 0 && banned < row.length) row[banned] = -Infinity;
    }
  }
}

/** Keeps scores >= the k-th largest (ties at the threshold kept, as torch's `<` comparison). */
export function topK(row: Float32Array, k: number): void {
  if (k >= row.length) return;
  const sorted = Float32Array.from(row).sort(); // ascending; NaN-free logits assumed
  const kth = sorted[row.length - k]!;
  for (let v = 0; v < row.length; v++) if (row[v]! < kth) row[v] = -Infinity;
}

/** Nucleus filtering: drops the smallest-probability tokens whose cumulative mass is <= 1 - p. */
export function topP(row: Float32Array, p: number, minKeep: number): void {
  const V = row.length;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => row[a]! - row[b]! || a - b); // ascending
  let m = -Infinity;
  for (let v = 0; v < V; v++) m = Math.max(m, row[v]!);
  let z = 0;
  for (let v = 0; v < V; v++) z += Math.exp(row[v]! - m);
  let cum = 0;
  const remove: number[] = [];
  for (let i = 0; i < V - minKeep; i++) {
    const t = order[i]!;
    cum += Math.exp(row[t]! - m) / z;
    if (cum <= 1 - p) remove.push(t);
    else break;
  }
  for (const t of remove) row[t] = -Infinity;
}

/** log_softmax of each row, in float64 then rounded to float32 (beam search scores). */
export function logSoftmaxRows(x: Float32Array, V: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let o = 0; o < x.length; o += V) {
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, x[o + v]!);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(x[o + v]! - m);
    const lz = m + Math.log(z);
    for (let v = 0; v < V; v++) out[o + v] = x[o + v]! - lz;
  }
  return out;
}

/** Index of the largest value (first on ties, as torch.argmax). */
export function argmaxRow(row: ArrayLike<number>, off = 0, n = row.length): number {
  let best = 0;
  let bv = -Infinity;
  for (let v = 0; v < n; v++) {
    const s = row[off + v]!;
    if (s > bv) {
      bv = s;
      best = v;
    }
  }
  return best;
}

/** Draws a token from softmax(row) with u ∈ [0, 1). All -inf → token 0 (nothing to sample). */
export function sampleRow(row: Float32Array, off: number, n: number, u: number): number {
  let m = -Infinity;
  for (let v = 0; v < n; v++) m = Math.max(m, row[off + v]!);
  if (m === -Infinity) return 0;
  let z = 0;
  for (let v = 0; v < n; v++) z += Math.exp(row[off + v]! - m);
  let acc = 0;
  const target = u * z;
  let last = 0;
  for (let v = 0; v < n; v++) {
    const w = Math.exp(row[off + v]! - m);
    if (w === 0) continue;
    last = v;
    acc += w;
    if (acc > target) return v;
  }
  return last;
}
