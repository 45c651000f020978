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
