import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIP_CONTEXT_LENGTH, ClipTokenizer } from '../../src/clip/tokenizer.ts';
import { CLIP_FIXTURES_DIR, FIXTURES_DIR } from '../support/fixtures.ts';

interface Golden {
  text: string;
  ids: number[];
  tokenizer: string;
}
const golden = JSON.parse(
  readFileSync(path.join(FIXTURES_DIR, 'clip', 'token_vectors.json'), 'utf8'),
) as Golden[];

describe('ClipTokenizer', () => {
  let tok: ClipTokenizer;
  beforeAll(async () => {
    tok = await ClipTokenizer.fromDir(CLIP_FIXTURES_DIR);
  });

  it('has golden vectors to check', () => {
    expect(golden.length).toBeGreaterThanOrEqual(30);
  });

  it.each(golden.map((g) => [g.text.slice(0, 40), g] as const))('matches golden ids for %j', (_label, g) => {
    expect(tok.encode(g.text, { truncate: false })).toEqual(g.ids);
    // What the model sees: the same ids, or the first 76 plus the end token when longer than 77.
    const expected = g.ids.length <= CLIP_CONTEXT_LENGTH ? g.ids : [...g.ids.slice(0, 76), tok.eosId];
    expect(tok.encode(g.text)).toEqual(expected);
  });

  it('never pads: length follows the text', () => {
    expect(tok.encode('cat')).toHaveLength(3);
    expect(tok.encode('a photo of a cat on a sofa')).toHaveLength(10);
  });

  it('truncates at 77 keeping the end token', () => {
    const ids = tok.encode('dog '.repeat(500));
    expect(ids).toHaveLength(CLIP_CONTEXT_LENGTH);
    expect(ids[0]).toBe(tok.bosId);
    expect(ids.at(-1)).toBe(tok.eosId);
    expect(ids.filter((i) => i === tok.eosId)).toHaveLength(1);
  });

  it('handles empty text and emoji', () => {
    expect(tok.encode('')).toEqual([tok.bosId, tok.eosId]);
    const emoji = tok.encode('🐱 on a 🛋️');
    expect(emoji[0]).toBe(tok.bosId);
    expect(emoji.length).toBeGreaterThan(4);
  });
});
