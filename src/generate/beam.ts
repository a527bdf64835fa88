/**
 * Beam search as transformers 5's vectorised _beam_search: per prompt, numBeams running hypotheses
 * and numBeams finished ones; each step takes the top 2·numBeams continuations of all running beams
 * (log_softmax + processors + running score), hypotheses that hit eos / max length move to the
 * finished set (length-normalised), the rest refill the running set, and the KV cache is reordered
 * to the source beams. Arithmetic on scores is float32 (Math.fround) because the -1e9 masks are
 * added in float32 in torch, which decides near-ties.
 */
import type { BioGptForCausalLM } from '../models/biogpt/model.js';
import { DecodeStepper } from './stepper.js';
import { logSoftmaxRows, processScores } from './logits_process.js';
import { expandRows, processorConfig, stats, type GenerateResult, type ResolvedOptions } from './generate.js';

const f = Math.fround;
const NEG = -1e9;

interface Hyp {
  seq: number[];
  score: number;
  /** Generated tokens (for the output length). */
  gen: number;
  done: boolean;
}

/** Indices of the k largest values, larger first, lower index first on ties. */
function topIndices(vals: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: vals.length }, (_, i) => i);
  idx.sort((a, b) => vals[b]! - vals[a]! || a - b);
  return idx.slice(0, k);
}

export async function beamSearch(model: BioGptForCausalLM, inputIds: readonly (readonly number[])[], mask: number[][], r: ResolvedOptions): Promise<GenerateResult> {
  const B = inputIds.length;
  const K = r.numBeams;
  const T = inputIds[0]!.length;
  const V = model.config.vocabSize;
  const maxLength = T + r.maxNewTokens;
  const keep = Math.max(2, 1 + r.eos.length) * K;
  const pc = processorConfig(r);
  const lp = r.lengthPenalty;

  const running: Hyp[][] = inputIds.map((row) => Array.from({ length: K }, (_, k) => ({ seq: [...row], score: k === 0 ? 0 : NEG, gen: 0, done: false })));
  const finished: Hyp[][] = inputIds.map(() => Array.from({ length: K }, () => ({ seq: [], score: NEG, gen: 0, done: false })));
  const heuristicOpen = new Array<boolean>(B).fill(true);
  const scoresOut: Float32Array[] = [];
  const stepper = new DecodeStepper(model);
  let steps = 0;
  const t0 = performance.now();
  let tPrefill = t0;
  try {
    // One prefill per prompt, then the cache is expanded to numBeams identical rows.
    let logits = await stepper.prefill(inputIds, mask);
    tPrefill = performance.now();
    stepper.reorder(Array.from({ length: B * K }, (_, i) => Math.floor(i / K)));
    logits = expandRows(logits, V, K);
    let curLen = T;
    for (;;) {
      const lprobs = logSoftmaxRows(logits, V);
      const flatSeqs = running.flatMap((hs) => hs.map((h) => h.seq));
      processScores(lprobs, V, flatSeqs, T, pc);
      if (r.outputScores) scoresOut.push(Float32Array.from(lprobs));
      const srcRows: number[] = [];
      const nextTokens: number[] = [];
      let allHit = true;
      for (let b = 0; b < B; b++) {
        const acc = new Float32Array(K * V);
        for (let k = 0; k < K; k++) {
          const s = running[b]![k]!.score;
          const o = (b * K + k) * V;
          for (let v = 0; v < V; v++) acc[k * V + v] = lprobs[o + v]! + s;
        }
        const top = topIndices(acc, keep);
        const cand = top.map((i) => {
          const k = Math.floor(i / V);
          const tok = i % V;
          const seq = [...running[b]![k]!.seq, tok];
          const hits = r.eos.includes(tok) || curLen + 1 >= maxLength;
          return { k, tok, seq, logp: acc[i]!, hits };
        });
        if (!cand.every((c) => c.hits)) allHit = false;
        // Running beams for the next step: the best continuations that did not stop.
        const runScores = cand.map((c) => f(c.logp + (c.hits ? NEG : 0)));
        const nextRun = topIndices(runScores, K);
        // Finished set: merge the old one with the candidates that stopped among the top numBeams.
        const fullNow = r.earlyStopping === true && finished[b]!.every((h) => h.done);
        const gen = curLen + 1 - T;
        const merged: Hyp[] = [...finished[b]!];
        cand.forEach((c, i) => {
          const justDone = c.hits && i < K;
          let s = f(c.logp / Math.pow(gen, lp));
          if (fullNow) s = f(s + NEG);
          if (!heuristicOpen[b]) s = f(s + NEG);
          if (!justDone) s = f(s + NEG);
          merged.push({ seq: c.seq, score: s, gen, done: justDone });
        });
        finished[b] = topIndices(merged.map((h) => h.score), K).map((i) => merged[i]!);
        running[b] = nextRun.map((i) => ({ seq: cand[i]!.seq, score: runScores[i]!, gen, done: false }));
        for (const i of nextRun) {
          srcRows.push(b * K + cand[i]!.k);
          nextTokens.push(cand[i]!.tok);
        }
      }
      curLen++;
      // Can a running beam still beat the worst finished one?
      for (let b = 0; b < B; b++) {
        const bestLen = r.earlyStopping === 'never' && lp > 0 ? maxLength - T : curLen - T;
        const best = f(running[b]![0]!.score / Math.pow(bestLen, lp));
        const fin = finished[b]!;
        const worst = Math.min(...fin.map((h) => h.score));
        heuristicOpen[b] = heuristicOpen[b]! && fin.some((h) => best > (h.done ? worst : NEG));
      }
      const improvement = heuristicOpen.some(Boolean);
      const openBeam = !(finished.every((fs) => fs.every((h) => h.done)) && r.earlyStopping === true);
      if (!improvement || !openBeam || allHit) break;
      stepper.reorder(srcRows);
      logits = await stepper.step(nextTokens);
      steps++;
    }
  } finally {
    stepper.dispose();
  }
  const t1 = performance.now();
  // The numReturnSequences best finished hypotheses of each prompt, prompt-major (finished is sorted
  // by score, as transformers' beam_scores). A slot never filled holds the prompt alone, as in
  // transformers (its sequences buffer starts as the prompt followed by padding).
  const best = finished.flatMap((fs, b) => fs.slice(0, r.numReturnSequences).map((h) => (h.seq.length ? h : { ...h, seq: [...inputIds[b]!], gen: 0 })));
  // Output tokens (the returned hypotheses' new tokens), not the B·numBeams candidates scored per step.
  const newTokens = best.reduce((n, h) => n + h.gen, 0);
  const outLen = T + Math.max(...best.map((h) => h.gen));
  const sequences = best.map((h) => {
    const s = h.seq.slice(0, outLen);
    while (s.length < outLen) s.push(r.padTokenId);
    return s;
  });
  const res: GenerateResult = { sequences, promptLength: T, sequencesScores: best.map((h) => h.score), stats: stats(t0, tPrefill, t1, steps, newTokens) };
  if (r.outputScores) res.scores = scoresOut;
  return res;
}
