/**
 * The prompt-length rules of generate(), in one place: a prompt must leave the model a free
 * position for a new token; maxLength (transformers' max_length: prompt + new tokens) must leave
 * room after the prompt and fit the positions; prompt + maxNewTokens must fit. generate() applies
 * them to its batch; checkPromptLengths applies them to every prompt of a run before anything is
 * generated (the CLI), naming the prompts that break them.
 */
import { RadgradError } from '../errors.js';
import type { GenerateOptions } from './generate.js';

/** New tokens at most when neither maxNewTokens nor maxLength is given (transformers' default). */
export const DEFAULT_MAX_NEW_TOKENS = 20;

export type LengthLimit = Pick<GenerateOptions, 'maxNewTokens' | 'maxLength'>;

/** The first rule the prompts break, with the indices of those that break it. */
export type LengthProblem =
  | { rule: 'alone'; bad: number[] }
  | { rule: 'maxLength'; maxLength: number; bad: number[] }
  | { rule: 'maxLengthPositions'; maxLength: number }
  | { rule: 'withNew'; maxNewTokens: number; bad: number[] };

/**
 * Checks prompt lengths (tokens, padding excluded) against maxPos positions and the length limit:
 * maxNewTokens, or else maxLength (a batch is padded to its longest prompt, so a padded batch of
 * prompts shorter than maxLength is too), or else DEFAULT_MAX_NEW_TOKENS.
 */
export function findLengthProblem(tokens: readonly number[], maxPos: number, gen: LengthLimit): LengthProblem | null {
  const which = (bad: (n: number) => boolean) => tokens.flatMap((n, i) => (bad(n) ? [i] : []));
  const alone = which((n) => n >= maxPos);
  if (alone.length) return { rule: 'alone', bad: alone };
  if (gen.maxNewTokens === undefined && gen.maxLength !== undefined) {
    const L = gen.maxLength;
    const full = which((n) => n >= L);
    if (full.length) return { rule: 'maxLength', maxLength: L, bad: full };
    return L > maxPos ? { rule: 'maxLengthPositions', maxLength: L } : null;
  }
  const maxNew = gen.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const over = which((n) => n + maxNew > maxPos);
  return over.length ? { rule: 'withNew', maxNewTokens: maxNew, bad: over } : null;
}

/**
 * Checks every prompt of a run (its token count; nameOf(i) says where prompt i came from, e.g.
 * "record 11 (id p10/s5, line 12 of eval.jsonl)", and is called only for the prompts an error
 * names) before anything is generated, so a long prompt late in a file cannot throw away the work
 * done on the ones before it. Prompts are never truncated or skipped silently (that would change
 * what is evaluated). `limit` names the length limit for messages ("--max-new-tokens 64",
 * "max_length 30 (generation_config.json)").
 */
export function checkPromptLengths(
  cmd: string, tokens: readonly number[], nameOf: (i: number) => string, maxPos: number, gen: LengthLimit, limit: string,
): void {
  const p = findLengthProblem(tokens, maxPos, gen);
  if (!p) return;
  const list = (bad: readonly number[]) =>
    bad.slice(0, 5).map((i) => `${nameOf(i)}: ${tokens[i]} tokens`).join('; ') + (bad.length > 5 ? `; ... ${bad.length - 5} more` : '');
  const flag = limit.startsWith('--') ? limit.split(' ')[0]! : `--${limit.split(' ')[0]!.replace(/_/g, '-')}`;
  const longest = Math.max(...tokens);
  const one = p.rule !== 'maxLengthPositions' && p.bad.length === 1;
  switch (p.rule) {
    case 'alone':
      throw new RadgradError(
        `${cmd}: ${one ? 'a prompt fills' : `${p.bad.length} prompts fill`} the model's ${maxPos} positions (max_position_embeddings) on ${one ? 'its' : 'their'} own, ` +
          `leaving no room for a new token (${list(p.bad)})`,
        { hint: `prompts must be at most ${maxPos - 1} tokens: shorten or remove ${one ? 'it' : 'them'}; nothing was generated` },
      );
    case 'maxLength':
      throw new RadgradError(
        `${cmd}: ${one ? 'a prompt' : `${p.bad.length} prompts`} of ${p.maxLength} tokens or more with ${limit}, which counts the prompt: no room for a new token (${list(p.bad)})`,
        { hint: `raise ${flag} above ${longest}, or give --max-new-tokens (new tokens only) instead; nothing was generated` },
      );
    case 'maxLengthPositions':
      throw new RadgradError(`${cmd}: ${limit} exceeds the model's ${maxPos} positions (max_position_embeddings)`, {
        hint: `lower --max-length to ${maxPos} or less, or give --max-new-tokens; nothing was generated`,
      });
    case 'withNew':
      throw new RadgradError(
        `${cmd}: ${one ? 'a prompt' : `${p.bad.length} prompts`} + ${limit} exceed the model's ${maxPos} positions (max_position_embeddings) (${list(p.bad)})`,
        { hint: `lower --max-new-tokens to ${maxPos - longest} (room for every prompt), or shorten those prompts; nothing was generated` },
      );
  }
}
