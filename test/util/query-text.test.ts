import { describe, expect, it } from 'vitest';
import { cleanQuery } from '../../src/util/query-text.ts';

describe('cleanQuery', () => {
  it('collapses whitespace and zero-width characters', () => {
    expect(cleanQuery('  cats\n\ton   a\u200B sofa ')).toEqual({
      text: 'cats on a sofa',
      truncated: false,
      hasWords: true,
    });
  });
  it('empty and missing', () => {
    expect(cleanQuery(undefined)).toEqual({ text: '', truncated: false, hasWords: false });
    expect(cleanQuery('   ')).toEqual({ text: '', truncated: false, hasWords: false });
  });
  it('emoji-only and punctuation-only have no words', () => {
    expect(cleanQuery('🐱🛋️').hasWords).toBe(false);
    expect(cleanQuery('?!…').hasWords).toBe(false);
    expect(cleanQuery('🐱 cat').hasWords).toBe(true);
    expect(cleanQuery('猫').hasWords).toBe(true);
  });
  it('caps long text at a word boundary', () => {
    const long = 'red '.repeat(300);
    const c = cleanQuery(long, 500);
    expect(c.truncated).toBe(true);
    expect(c.text.length).toBeLessThanOrEqual(500);
    expect(c.text.endsWith('red')).toBe(true);
  });
  it('cuts a single huge word hard', () => {
    const c = cleanQuery('x'.repeat(2000), 500);
    expect(c).toEqual({ text: 'x'.repeat(500), truncated: true, hasWords: true });
  });
});

describe('cleanQuery: control characters', () => {
  it('removes control and zero-width characters and collapses whitespace', () => {
    expect(cleanQuery('  red\u0000\u200b car \n\t on   road ').text).toBe('red car on road');
  });

  it('a control character splits words; a format character inside a word does not', () => {
    expect(cleanQuery('red\u0007cars').text).toBe('red cars');
    expect(cleanQuery('sun\u200bset').text).toBe('sunset');
  });
});

describe('cleanQuery: where a long query is cut', () => {
  it('keeps a query of exactly the cap whole', () => {
    expect(cleanQuery('abcde fghi', 10)).toEqual({ text: 'abcde fghi', truncated: false, hasWords: true });
  });

  it('drops the last, broken word when a space lies in the last fifth of the cap', () => {
    // Cut at 11: "abcdefghi j"; the space (index 9) is past 8.8, so "j" goes.
    expect(cleanQuery('abcdefghi jklm', 11)).toEqual({ text: 'abcdefghi', truncated: true, hasWords: true });
  });

  it('cuts mid-word when the last space is at or before four fifths of the cap', () => {
    // Cut at 10: "abcdefgh i"; the space (index 8) is not past 8.
    expect(cleanQuery('abcdefgh ijkl', 10)).toEqual({ text: 'abcdefgh i', truncated: true, hasWords: true });
  });

  it('never ends on a space', () => {
    // Cut at 4: "abc "; the space (index 3) is not past 3.2, and the cut is trimmed.
    expect(cleanQuery('abc defg', 4)).toEqual({ text: 'abc', truncated: true, hasWords: true });
  });
});
