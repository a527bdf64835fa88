/**
 * The prompt-length rules of generate(), in one place: a prompt must leave the model a free
 * position for a new token; maxLength (transformers' max_length: prompt + new tokens) must leave
 * room after the prompt and fit the positions; prompt + maxNewTokens must fit. Each rule has one
 * message and one hint (lengthProblemError), worded with the caller's names for the options:
 * generate() names GenerateOptions fields, the CLI its flags. checkPromptLengths applies the
 * rules to every prompt of a run before anything is generated, naming the prompts that break them.
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

/** How a length error names things: the options (API field names or CLI flags) and the prompts. */
export interface LengthWording {
  /** The limit in force, e.g. "maxNewTokens 20", "--max-new-tokens 64", "max_length 30 (generation_config.json)". */
  limit: string;
  /** The names of the two length options in hints ("maxNewTokens" / "--max-new-tokens", "maxLength" / "--max-length"). */
  maxNewTokens: string;
  maxLength: string;
  /** Where prompt i came from, e.g. "record 11 (id p10/s5, line 12 of eval.jsonl)"; called only for the prompts an error names. */
  nameOf: (i: number) => string;
  /** Added to every hint (the CLI: "nothing was generated"). */
  hintEnd?: string;
}

/** generate()'s names for the length options. */
export const OPTION_LENGTH_NAMES = { maxNewTokens: 'maxNewTokens', maxLength: 'maxLength' } as const;

/** The limit in force under GenerateOptions' names: "maxNewTokens 8", "maxLength 30", "maxNewTokens 20 (the default)". */
export function describeLengthLimit(gen: LengthLimit): string {
  if (gen.maxNewTokens !== undefined) return `maxNewTokens ${gen.maxNewTokens}`;
  if (gen.maxLength !== undefined) return `maxLength ${gen.maxLength}`;
  return `maxNewTokens ${DEFAULT_MAX_NEW_TOKENS} (the default)`;
}

/** The error for a length problem: one message and one hint per rule, whoever reports it. */
export function lengthProblemError(cmd: string, p: LengthProblem, tokens: readonly number[], maxPos: number, w: LengthWording): RadgradError {
  const list = (bad: readonly number[]) =>
    bad.slice(0, 5).map((i) => `${w.nameOf(i)}: ${tokens[i]} tokens`).join('; ') + (bad.length > 5 ? `; ... ${bad.length - 5} more` : '');
  const longest = Math.max(...tokens);
  const one = p.rule !== 'maxLengthPositions' && p.bad.length === 1;
  const end = w.hintEnd ? `; ${w.hintEnd}` : '';
  switch (p.rule) {
    case 'alone':
      return new RadgradError(
        `${cmd}: ${one ? 'a prompt fills' : `${p.bad.length} prompts fill`} the model's ${maxPos} positions (max_position_embeddings) on ${one ? 'its' : 'their'} own, ` +
          `leaving no room for a new token (${list(p.bad)})`,
        { hint: `prompts must be at most ${maxPos - 1} tokens: shorten or remove ${one ? 'it' : 'them'}${end}` },
      );
    case 'maxLength':
      return new RadgradError(
        `${cmd}: ${one ? 'a prompt' : `${p.bad.length} prompts`} of ${p.maxLength} tokens or more with ${w.limit}, which counts the prompt: no room for a new token (${list(p.bad)})`,
        { hint: `raise ${w.maxLength} above ${longest}, or give ${w.maxNewTokens} (new tokens only) instead${end}` },
      );
    case 'maxLengthPositions':
      return new RadgradError(`${cmd}: ${w.limit} exceeds the model's ${maxPos} positions (max_position_embeddings)`, {
        hint: `lower ${w.maxLength} to ${maxPos} or less, or give ${w.maxNewTokens}${end}`,
      });
    case 'withNew':
      return new RadgradError(
        `${cmd}: ${one ? 'a prompt' : `${p.bad.length} prompts`} + ${w.limit} exceed the model's ${maxPos} positions (max_position_embeddings) (${list(p.bad)})`,
        { hint: `lower ${w.maxNewTokens} to ${maxPos - longest} (room for every prompt), or shorten ${one ? 'the prompt' : 'those prompts'}${end}` },
      );
  }
}

/**
 * Checks every prompt of a run (its token count) before anything is generated, so a long prompt
 * late in a file cannot throw away the work done on the ones before it. Prompts are never
 * truncated or skipped silently (that would change what is evaluated).
 */
export function checkPromptLengths(cmd: string, tokens: readonly number[], maxPos: number, gen: LengthLimit, w: LengthWording): void {
  const p = findLengthProblem(tokens, maxPos, gen);
  if (p) throw lengthProblemError(cmd, p, tokens, maxPos, w);
}
