/**
 * BioGptTokenizer: a drop-in equivalent of `transformers.BioGptTokenizer` (Moses tokenization, then
 * BPE) producing the same tokens, ids and decoded text.
 */
import path from 'node:path';
import { FileFormatError, RadgradError } from '../errors.js';
import { BytePairEncoder } from './bpe.js';
import { pySplit } from './char_classes.js';
import { mosesDetokenize } from './detokenize.js';
import {
  checkTokenizerDir,
  CONFIG_FILE,
  MERGES_FILE,
  VOCAB_FILE,
  pythonJsonDumps,
  readMerges,
  readVocab,
  vocabJson,
  writeFileAtomic,
} from './files.js';
import { mosesTokenize } from './moses.js';

export type PaddingMode = boolean | 'longest' | 'max_length';

export interface EncodeBatchOptions {
  /** true / 'longest': pad to the longest row; 'max_length': pad to maxLength; false: no padding. */
  padding?: PaddingMode;
  /** Where pad ids go (default 'right', as Hugging Face). */
  paddingSide?: 'right' | 'left';
  /** Cut rows (special token included) to maxLength. */
  truncation?: boolean;
  /** Defaults to the model's 1024 positions. */
  maxLength?: number;
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  /** 1 where the id is the leading </s> or padding, 0 for text tokens. */
  specialTokensMask: number[][];
}

export interface DecodeOptions {
  /** Drop <s>, <pad>, </s> and <unk> ids before joining (Hugging Face's skip_special_tokens). */
  skipSpecialTokens?: boolean;
}

const SPECIAL_TOKENS = ['<s>', '<pad>', '</s>', '<unk>'] as const;
/** Hugging Face never Moses-splits its special tokens when they appear in the input text. */
const SPECIAL_SPLIT = /(<s>|<pad>|<\/s>|<unk>)/;
const MODEL_MAX_LENGTH = 1024;

/** `row` padded with `value` to `length` entries on `side` (a longer row is returned as it is). */
function padRow<T>(row: readonly T[], length: number, value: T, side: 'right' | 'left'): T[] {
  const fill = new Array<T>(Math.max(0, length - row.length)).fill(value);
  return side === 'left' ? [...fill, ...row] : [...row, ...fill];
}

export class BioGptTokenizer {
  readonly bosId = 0;
  readonly padId = 1;
  readonly eosId = 2;
  readonly unkId = 3;
  readonly modelMaxLength = MODEL_MAX_LENGTH;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly idToToken = new Map<number, string>();
  private readonly bpe: BytePairEncoder;
  private readonly specialIds: ReadonlySet<number>;

  constructor(vocab: ReadonlyMap<string, number>, merges: readonly (readonly [string, string])[], source = 'vocabulary') {
    SPECIAL_TOKENS.forEach((tok, id) => {
      if (vocab.get(tok) !== id) {
        throw new FileFormatError(source, `special token ${tok} must have id ${id}, got ${vocab.get(tok) ?? 'none'}`, {
          hint: 'BioGPT vocabularies start with <s> <pad> </s> <unk> at ids 0-3',
        });
      }
    });
    this.vocab = vocab;
    for (const [tok, id] of vocab) this.idToToken.set(id, tok);
    this.bpe = new BytePairEncoder(merges);
    this.specialIds = new Set([this.bosId, this.padId, this.eosId, this.unkId]);
  }

  /** Load vocab.json + merges.txt from a Hugging Face model folder. */
  static fromDir(dir: string): BioGptTokenizer {
    checkTokenizerDir(dir);
    const vocabFile = path.join(dir, VOCAB_FILE);
    return new BioGptTokenizer(readVocab(vocabFile), readMerges(path.join(dir, MERGES_FILE)), vocabFile);
  }

  /** Number of vocabulary entries (Hugging Face's vocab_size). */
  get vocabSize(): number {
    return this.vocab.size;
  }

  /** Words currently held by the BPE cache. */
  get bpeCacheSize(): number {
    return this.bpe.cacheSize;
  }

  clearCache(): void {
    this.bpe.clearCache();
  }

  /** Token strings of `text` ("piece" inside a word, "piece</w>" at its end), no special tokens added. */
  tokenize(text: string): string[] {
    const out: string[] = [];
    const parts = text.split(SPECIAL_SPLIT);
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p]!;
      if (p % 2 === 1) {
        out.push(part);
        continue;
      }
      if (part.length === 0) continue;
      for (const word of mosesTokenize(part)) {
        for (const piece of this.bpe.encodeWord(word)) out.push(piece);
      }
    }
    return out;
  }

  tokenToId(token: string): number {
    return this.vocab.get(token) ?? this.unkId;
  }

  idToTokenString(id: number): string {
    return this.idToToken.get(id) ?? SPECIAL_TOKENS[this.unkId];
  }

  /** Ids of `text` with the leading </s> BioGPT uses (nothing appended). */
  encode(text: string): number[] {
    const ids = [this.eosId];
    for (const tok of this.tokenize(text)) ids.push(this.tokenToId(tok));
    return ids;
  }

  /** Encode several texts, optionally truncated and padded to a rectangle. */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding {
    const { padding = false, paddingSide = 'right', truncation = false } = options;
    const maxLength = options.maxLength ?? (truncation || padding === 'max_length' ? this.modelMaxLength : undefined);
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1)) {
      throw new RadgradError(`encodeBatch: maxLength must be a positive integer, got ${maxLength}`, {
        hint: 'every row keeps its leading </s>, so maxLength must be at least 1',
      });
    }
    if (paddingSide !== 'right' && paddingSide !== 'left') {
      throw new RadgradError(`encodeBatch: paddingSide must be 'right' or 'left', got ${String(paddingSide)}`);
    }
    const rows = texts.map((t) => {
      const ids = this.encode(t);
      return truncation && maxLength !== undefined && ids.length > maxLength ? ids.slice(0, maxLength) : ids;
    });
    let target = 0;
    if (padding === true || padding === 'longest') target = rows.reduce((m, r) => Math.max(m, r.length), 0);
    else if (padding === 'max_length') target = maxLength!;
    const { inputIds, attentionMask } = this.pad(rows, { paddingSide, length: target });
    const specialTokensMask = rows.map((ids) => padRow(ids.map((_, i) => (i === 0 ? 1 : 0)), target, 1, paddingSide));
    return { inputIds, attentionMask, specialTokensMask };
  }

  /**
   * Pads encoded rows to `length` (default: the longest row; a longer row is left as it is) with
   * the pad id on `paddingSide` (default 'right'), as transformers' tokenizer.pad: the attention
   * mask is 1 on the ids and 0 on the padding. encodeBatch pads with it.
   */
  pad(rows: readonly (readonly number[])[], options: { paddingSide?: 'right' | 'left'; length?: number } = {}): { inputIds: number[][]; attentionMask: number[][] } {
    const side = options.paddingSide ?? 'right';
    if (side !== 'right' && side !== 'left') throw new RadgradError(`pad: paddingSide must be 'right' or 'left', got ${String(side)}`);
    const length = options.length ?? rows.reduce((m, r) => Math.max(m, r.length), 0);
    return { inputIds: rows.map((r) => padRow(r, length, this.padId, side)), attentionMask: rows.map((r) => padRow(r.map(() => 1), length, 0, side)) };
  }

  /** Hugging Face's convert_tokens_to_string: undo BPE, then Moses-detokenize. */
  convertTokensToString(tokens: readonly string[]): string {
    let joined = '';
    for (const t of tokens) joined += t.replaceAll(' ', '').replaceAll('</w>', ' ');
    return mosesDetokenize(pySplit(joined));
  }

  /** Text of `ids`; like Hugging Face, special ids are kept unless skipSpecialTokens is set. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    const tokens: string[] = [];
    for (const id of ids) {
      if (skip && this.specialIds.has(id)) continue;
      tokens.push(this.idToTokenString(id));
    }
    return this.convertTokensToString(tokens);
  }

  /** Write vocab.json, merges.txt and tokenizer_config.json as Hugging Face's save_pretrained does. */
  save(dir: string): void {
    writeFileAtomic(path.join(dir, VOCAB_FILE), vocabJson(this.vocab));
    writeFileAtomic(path.join(dir, MERGES_FILE), this.bpe.merges.map(([a, b]) => `${a} ${b}\n`).join(''));
    const addedTokens: Record<string, unknown> = {};
    SPECIAL_TOKENS.forEach((content, id) => {
      addedTokens[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
    });
    const config = {
      added_tokens_decoder: addedTokens,
      bos_token: '<s>',
      clean_up_tokenization_spaces: false,
      eos_token: '</s>',
      extra_special_tokens: {},
      model_max_length: this.modelMaxLength,
      pad_token: '<pad>',
      sep_token: '</s>',
      tokenizer_class: 'BioGptTokenizer',
      unk_token: '<unk>',
    };
    writeFileAtomic(path.join(dir, CONFIG_FILE), pythonJsonDumps(config) + '\n');
  }
}
