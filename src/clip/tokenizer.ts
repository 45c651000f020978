import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ImageSearchError } from '../core/errors.ts';

/** CLIP's context length: 77 positions including the start and end tokens. */
export const CLIP_CONTEXT_LENGTH = 77;

/**
 * CLIP tokenizer on the model's own `tokenizer.json` (HF tokenizers.js: NFC, lower-case, byte-level
 * BPE, start/end tokens). Ids are never padded; over-long texts are cut to 77 keeping the end token,
 * as `clip.tokenize(truncate=True)` does.
 */
export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;

  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly maxLength: number,
  ) {
    const vocab = (id: string) => {
      const enc = tokenizer.encode(id, { add_special_tokens: false });
      return enc.ids.length === 1 ? enc.ids[0]! : undefined;
    };
    this.bosId = vocab('<|startoftext|>') ?? 49406;
    this.eosId = vocab('<|endoftext|>') ?? 49407;
    this.padId = this.eosId;
  }

  static async fromDir(dir: string): Promise<ClipTokenizer> {
    const read = async (name: string, required: boolean): Promise<Record<string, unknown>> => {
      try {
        return JSON.parse(await readFile(path.join(dir, name), 'utf8')) as Record<string, unknown>;
      } catch (e) {
        if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return {};
        throw new ImageSearchError(
          'model_invalid',
          `The model's ${name} is missing or unreadable in ${dir}.`,
          {
            cause: e,
          },
        );
      }
    };
    const json = await read('tokenizer.json', true);
    const config = await read('tokenizer_config.json', false);
    const max =
      typeof config.model_max_length === 'number' && config.model_max_length < 10_000
        ? config.model_max_length
        : CLIP_CONTEXT_LENGTH;
    return new ClipTokenizer(new Tokenizer(json, config), max);
  }

  /** True when `word` is one whole-word token of the vocabulary (CLIP "knows" it as a word). */
  isWholeWord(word: string): boolean {
    if (word === '' || /\s/.test(word)) return false;
    // Start token, the word, end token.
    return this.tokenizer.encode(word).ids.length === 3;
  }

  /**
   * Token ids with start and end tokens, unpadded, at most `maxLength` long
   * (`truncate: false` returns them all, as the HF tokenizer does without truncation).
   */
  encode(text: string, opts: { truncate?: boolean } = {}): number[] {
    const truncate = opts.truncate ?? true;
    // Pre-cut very long inputs: BPE over megabytes is wasted work when 77 tokens survive.
    const ids = this.tokenizer.encode(truncate ? text.slice(0, this.maxLength * 16) : text).ids;
    if (!truncate || ids.length <= this.maxLength) return ids;
    const cut = ids.slice(0, this.maxLength);
    cut[this.maxLength - 1] = this.eosId;
    return cut;
  }
}
