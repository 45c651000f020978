/**
 * ClipTokenizer.fromDir on model folders other than the real CLIP one: where the start and end ids
 * come from, what tokenizer_config.json's model_max_length does, missing and broken files. Tiny
 * tokenizers are written here from the real tokenizer.json's pipeline (normaliser, pre-tokeniser,
 * post-processor) with a ten-entry vocabulary whose ids are chosen by the test.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../src/clip/tokenizer.ts';
import { CLIP_FIXTURES_DIR, tempDir } from '../support/fixtures.ts';

const REAL = JSON.parse(readFileSync(path.join(CLIP_FIXTURES_DIR, 'tokenizer.json'), 'utf8')) as {
  post_processor: Record<string, unknown>;
  model: Record<string, unknown>;
};

// The ids this test gives the start and end tokens (CLIP's own are 49406 and 49407).
const BOS = 8;
const EOS = 9;
const CAT = 7;
const special = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** "c", "a", "t" and the merges that make the whole word "cat" one token (id 7). */
function tinyTokenizer(withSpecialTokens: boolean): unknown {
  const vocab: Record<string, number> = { c: 0, a: 1, t: 2, 'c</w>': 3, 'a</w>': 4, 't</w>': 5, ca: 6 };
  vocab['cat</w>'] = CAT;
  if (withSpecialTokens) Object.assign(vocab, { '<|startoftext|>': BOS, '<|endoftext|>': EOS });
  else vocab['<unk>'] = 10;
  return {
    ...REAL,
    added_tokens: withSpecialTokens ? [special(BOS, '<|startoftext|>'), special(EOS, '<|endoftext|>')] : [],
    post_processor: { ...REAL.post_processor, cls: ['<|startoftext|>', BOS], sep: ['<|endoftext|>', EOS] },
    model: {
      ...REAL.model,
      unk_token: withSpecialTokens ? '<|endoftext|>' : '<unk>',
      vocab,
      merges: ['c a', 'ca t</w>'],
    },
  };
}

const dirs: string[] = [];
function modelDir(files: Record<string, unknown>): string {
  const dir = tempDir('imagesearch-tokenizer-');
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('ClipTokenizer start and end ids', () => {
  it("reads them from the model's own vocabulary", async () => {
    const tok = await ClipTokenizer.fromDir(modelDir({ 'tokenizer.json': tinyTokenizer(true) }));
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([BOS, EOS, EOS]);
    expect(tok.encode('cat')).toEqual([BOS, CAT, EOS]);
    expect(tok.isWholeWord('cat')).toBe(true);
    expect(tok.isWholeWord('ca')).toBe(false);
  });

  it("falls back to CLIP's ids (49406, 49407) when the vocabulary has no such tokens", async () => {
    const tok = await ClipTokenizer.fromDir(modelDir({ 'tokenizer.json': tinyTokenizer(false) }));
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([49406, 49407, 49407]);
  });

  it('puts its own end id last when it cuts a text', async () => {
    const tok = await ClipTokenizer.fromDir(
      modelDir({ 'tokenizer.json': tinyTokenizer(true), 'tokenizer_config.json': { model_max_length: 4 } }),
    );
    expect(tok.encode('cat cat cat cat')).toEqual([BOS, CAT, CAT, EOS]);
    expect(tok.encode('cat cat')).toEqual([BOS, CAT, CAT, EOS]);
  });
});

describe("ClipTokenizer's length limit (tokenizer_config.json model_max_length)", () => {
  const withLimit = (limit: unknown) =>
    ClipTokenizer.fromDir(
      modelDir({
        'tokenizer.json': tinyTokenizer(true),
        'tokenizer_config.json': { model_max_length: limit },
      }),
    );

  it('takes a real limit from the config', async () => {
    const tok = await withLimit(16);
    expect(tok.maxLength).toBe(16);
    expect(tok.encode('cat '.repeat(30))).toEqual([BOS, ...Array<number>(14).fill(CAT), EOS]);
  });

  it("uses CLIP's 77 for limits of 10 000 and more (transformers writes 1e30 for 'no limit')", async () => {
    expect((await withLimit(10_000)).maxLength).toBe(77);
    expect((await withLimit(1e30)).maxLength).toBe(77);
    expect((await withLimit('16')).maxLength).toBe(77);
  });

  it('uses 77 when the model has no tokenizer_config.json', async () => {
    const tok = await ClipTokenizer.fromDir(modelDir({ 'tokenizer.json': tinyTokenizer(true) }));
    expect(tok.maxLength).toBe(77);
  });
});

describe('ClipTokenizer.fromDir on broken model folders', () => {
  it('refuses a folder without tokenizer.json, naming the file and the folder', async () => {
    const dir = modelDir({ 'tokenizer_config.json': { model_max_length: 77 } });
    const err = await ClipTokenizer.fromDir(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'model_invalid',
      userMessage: `The model's tokenizer.json is missing or unreadable in ${dir}.`,
      cause: { code: 'ENOENT' },
    });
  });

  it('refuses a tokenizer_config.json that is not JSON', async () => {
    const dir = modelDir({ 'tokenizer.json': tinyTokenizer(true), 'tokenizer_config.json': '{ "model_max' });
    const err = await ClipTokenizer.fromDir(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'model_invalid',
      userMessage: `The model's tokenizer_config.json is missing or unreadable in ${dir}.`,
      cause: { name: 'SyntaxError' },
    });
  });
});

describe('ClipTokenizer on the real CLIP files', () => {
  let tok: ClipTokenizer;
  beforeAll(async () => {
    tok = await ClipTokenizer.fromDir(CLIP_FIXTURES_DIR);
  });

  it('counts only a single word without spaces as a whole word', () => {
    expect(tok.isWholeWord('cat')).toBe(true);
    // " cat" encodes to the same three ids as "cat", but it is not a word.
    expect(tok.isWholeWord(' cat')).toBe(false);
    expect(tok.isWholeWord('cat\t')).toBe(false);
    expect(tok.isWholeWord('')).toBe(false);
  });

  it('cuts a 2 MB query without spaces to 77 ids', () => {
    const ids = tok.encode('a'.repeat(2_000_000));
    expect(ids).toHaveLength(77);
    // CLIP's start and end ids (test/fixtures/clip/token_vectors.json).
    expect([ids[0], ids[76]]).toEqual([49406, 49407]);
  });
});
