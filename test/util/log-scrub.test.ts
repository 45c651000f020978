/**
 * Exact secret values (registerSecretValues): the edges mutation testing found unguarded — the
 * minimum length and the longest-first order.
 */
import { describe, expect, it } from 'vitest';
import { CENSOR, registerSecretValues, scrubText } from '../../src/util/log-scrub.ts';

describe('registerSecretValues', () => {
  it('blanks values of 6 characters or more, and leaves shorter ones (ordinary words) alone', () => {
    registerSecretValues(['qzxw5', 'qzxw6a', undefined, '']);
    expect(scrubText('five qzxw5 six qzxw6a')).toBe(`five qzxw5 six ${CENSOR}`);
  });

  it('blanks a value that contains another one whole, whatever order they were registered in', () => {
    registerSecretValues(['pw-kq7j', 'pw-kq7j-and-more-2']);
    expect(scrubText('a pw-kq7j-and-more-2 b pw-kq7j c')).toBe(`a ${CENSOR} b ${CENSOR} c`);
  });
});
