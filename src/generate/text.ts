/** Text in, text out: encodes prompts (unless given their ids) with left padding, generates, decodes the new tokens. */
import type { BioGptForCausalLM } from '../models/biogpt/model.js';
import type { BioGptTokenizer } from '../tokenizer/biogpt_tokenizer.js';
import { generate, resolveOptions, type GenerateOptions, type GenerateResult } from './generate.js';

export interface TextGeneration {
  prompt: string;
  /** Index of the prompt in the call's prompts. */
  promptIndex: number;
  /** Index among the prompt's numReturnSequences sequences (beam search: 0 = best). */
  rank: number;
  /** New ids only (up to and including eos; trailing padding dropped). */
  ids: number[];
  text: string;
  /** Beam search: the sequence's final (length-normalised) score. */
  score?: number;
}

/** A prompt and its ids (tok.encode(text)), for callers that encoded it already, e.g. to check its length. */
export interface EncodedPrompt {
  text: string;
  ids: readonly number[];
}

export interface GenerateTextOptions extends Omit<GenerateOptions, 'attentionMask' | 'onTokens'> {
  /** Streaming: row b's decoded text so far grew by delta (greedy / sampling; row b = prompt·numReturnSequences + k). */
  onText?: (b: number, delta: string) => void;
}

/** The new ids of each row, cut after the first eos and without padding. */
export function newIds(res: GenerateResult, eos: readonly number[] = [2], pad = 1): number[][] {
  return res.sequences.map((s) => {
    const out: number[] = [];
    for (const t of s.slice(res.promptLength)) {
      if (eos.includes(t)) {
        out.push(t);
        break;
      }
      if (t !== pad) out.push(t);
    }
    return out;
  });
}

/** Prompts (texts, or texts with their ids) in, one TextGeneration per returned sequence out (prompt-major). */
export async function generateText(
  model: BioGptForCausalLM, tok: BioGptTokenizer, prompts: readonly (string | EncodedPrompt)[], opts: GenerateTextOptions = {},
): Promise<{ outputs: TextGeneration[]; result: GenerateResult }> {
  const texts = prompts.map((p) => (typeof p === 'string' ? p : p.text));
  const enc = tok.pad(prompts.map((p) => (typeof p === 'string' ? tok.encode(p) : p.ids)), { paddingSide: 'left' });
  const { onText, ...gen } = opts;
  // The eos / pad / sequences per prompt generate() uses (options, e.g. from generation_config.json, else the model config's).
  const { eos, padTokenId: pad, numReturnSequences: n } = resolveOptions(model, gen);
  const streamed = Array.from({ length: prompts.length * n }, () => ({ ids: [] as number[], text: '', done: false }));
  const onTokens = onText
    ? (tokens: readonly number[]) => {
        tokens.forEach((t, b) => {
          const s = streamed[b]!;
          if (s.done) return;
          if (eos.includes(t)) {
            s.done = true;
            return;
          }
          s.ids.push(t);
          // Moses detokenisation joins words across tokens, so decode the whole row and emit the new suffix.
          const text = tok.decode(s.ids, { skipSpecialTokens: true });
          if (text.startsWith(s.text)) onText(b, text.slice(s.text.length));
          else onText(b, `\n${text}`);
          s.text = text;
        });
      }
    : undefined;
  const result = await generate(model, enc.inputIds, { ...gen, attentionMask: enc.attentionMask, ...(onTokens ? { onTokens } : {}) });
  const ids = newIds(result, eos, pad);
  const outputs = ids.map((row, i): TextGeneration => {
    const out: TextGeneration = { prompt: texts[Math.floor(i / n)]!, promptIndex: Math.floor(i / n), rank: i % n, ids: row, text: tok.decode(row, { skipSpecialTokens: true }) };
    if (result.sequencesScores) out.score = result.sequencesScores[i]!;
    return out;
  });
  return { outputs, result };
}
