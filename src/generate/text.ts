/** Text in, text out: encodes prompts with left padding, generates, decodes the new tokens. */
import type { BioGptForCausalLM } from '../models/biogpt/model.js';
import type { BioGptTokenizer } from '../tokenizer/biogpt_tokenizer.js';
import { generate, resolveOptions, type GenerateOptions, type GenerateResult } from './generate.js';

export interface TextGeneration {
  prompt: string;
  /** New ids only (up to and including eos; trailing padding dropped). */
  ids: number[];
  text: string;
}

export interface GenerateTextOptions extends Omit<GenerateOptions, 'attentionMask' | 'onTokens'> {
  /** Streaming: row b's decoded text so far grew by delta (greedy / sampling). */
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

export async function generateText(
  model: BioGptForCausalLM, tok: BioGptTokenizer, prompts: readonly string[], opts: GenerateTextOptions = {},
): Promise<{ outputs: TextGeneration[]; result: GenerateResult }> {
  const enc = tok.encodeBatch(prompts, { padding: true, paddingSide: 'left' });
  const { onText, ...gen } = opts;
  // The eos / pad generate() uses (options, e.g. from generation_config.json, else the model config's).
  const { eos, padTokenId: pad } = resolveOptions(model, gen);
  const streamed = prompts.map(() => ({ ids: [] as number[], text: '', done: false }));
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
  const outputs = prompts.map((p, b) => ({ prompt: p, ids: ids[b]!, text: tok.decode(ids[b]!, { skipSpecialTokens: true }) }));
  return { outputs, result };
}
