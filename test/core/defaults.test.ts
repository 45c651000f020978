/**
 * The user-visible defaults, pinned as literals: a changed constant must fail a test that says why
 * the value was chosen, not pass because the expectation was read from the code under test. The
 * search engines' own defaults (refine factor, nprobes, int8 re-score) are pinned in
 * test/index/engines.test.ts, the reply lifetime in test/conversation/idempotency.test.ts, the
 * near-duplicate cosine in test/search/near-duplicates.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { PICKS_PER_GRID } from '../../src/conversation/search-steps.ts';
import { DEFAULT_STATE_TTL_MS, DEFAULTS, defaultPerAddressLimit } from '../../src/core/defaults.ts';
import { GRID_SIZE } from '../../src/eval/metrics.ts';
import { SEARCH_DEFAULTS } from '../../src/search/search-service.ts';
import { loadConfig } from '../../src/util/config.ts';

describe('user-visible defaults', () => {
  it('score floor 0.15: well under the ~0.25–0.35 a CLIP ViT-B/32 text match scores, so only unrelated photos fall below it', () => {
    expect(DEFAULTS.minScore).toBe(0.15);
    expect(SEARCH_DEFAULTS.minScore).toBe(0.15);
    expect(loadConfig({}).minScore).toBe(0.15);
    expect(loadConfig({ IMAGESEARCH_MIN_SCORE: '' }).minScore).toBe(0.15);
    expect(loadConfig({ IMAGESEARCH_MIN_SCORE: '-1' }).minScore).toBe(-1);
    expect(() => loadConfig({ IMAGESEARCH_MIN_SCORE: '1.5' })).toThrow(/IMAGESEARCH_MIN_SCORE/);
  });

  it('4 photos per answer: one numbered 2×2 grid, everywhere a grid is sized', () => {
    expect(DEFAULTS.perGrid).toBe(4);
    expect(PICKS_PER_GRID).toBe(4);
    expect(GRID_SIZE).toBe(4);
    expect(SEARCH_DEFAULTS.want).toBe(4);
    // Gemini picks from 10 CLIP candidates.
    expect(SEARCH_DEFAULTS.candidates).toBe(10);
  });

  it('rate limits: 20 searches a minute per user; per address 1.5× that, rounded up (several people share one address)', () => {
    const config = loadConfig({});
    expect(config.rateLimitPerMinute).toBe(20);
    expect(config.rateLimitPerAddressPerMinute).toBe(30);
    expect(defaultPerAddressLimit(20)).toBe(30);
    expect(defaultPerAddressLimit(7)).toBe(11);
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: '7' }).rateLimitPerAddressPerMinute).toBe(11);
    expect(
      loadConfig({ RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '', RATE_LIMIT_PER_MINUTE: '' })
        .rateLimitPerAddressPerMinute,
    ).toBe(30);
    expect(loadConfig({ RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '5' }).rateLimitPerAddressPerMinute).toBe(5);
  });

  it('conversations and Slack threads are remembered 7 days: a week-old thread can still be refined', () => {
    expect(DEFAULTS.stateTtlDays).toBe(7);
    expect(DEFAULT_STATE_TTL_MS).toBe(604_800_000);
    expect(loadConfig({}).stateTtlMs).toBe(604_800_000);
    expect(loadConfig({ STATE_TTL_DAYS: '0.5' }).stateTtlMs).toBe(43_200_000);
  });

  it('the rest of the serving defaults', () => {
    const c = loadConfig({});
    // 2.5 s: a hard deadline, so a slow Gemini never holds a reply (CLIP's order is shown instead).
    expect(c.geminiTimeoutMs).toBe(2500);
    // 8 searches at once per process (README), the same limit on every platform; port and host as documented.
    expect(c.maxConcurrentSearches).toBe(8);
    expect(c.port).toBe(3000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.logLevel).toBe('info');
    expect(c.webChat).toBe(true);
  });
});

describe('on/off settings', () => {
  it('accept 1/true/yes/on and 0/false/no/off in any case; empty is off; anything else names the variable', () => {
    for (const on of ['1', 'true', 'TRUE', 'Yes', 'on', ' on '])
      expect(loadConfig({ DISCORD_MESSAGE_CONTENT: on }).discordMessageContent).toBe(true);
    for (const off of ['', '0', 'false', 'False', 'no', 'OFF'])
      expect(loadConfig({ DISCORD_MESSAGE_CONTENT: off }).discordMessageContent).toBe(false);
    expect(loadConfig({}).discordMessageContent).toBe(false);
    expect(() => loadConfig({ DISCORD_MESSAGE_CONTENT: 'sometimes' })).toThrow(/DISCORD_MESSAGE_CONTENT/);
    // WEB_CHAT unset follows HOST (loopback: on); set, it wins either way.
    expect(loadConfig({ HOST: '0.0.0.0' }).webChat).toBe(false);
    expect(loadConfig({ HOST: '0.0.0.0', WEB_CHAT: 'True' }).webChat).toBe(true);
    expect(loadConfig({ HOST: '127.0.0.1', WEB_CHAT: 'off' }).webChat).toBe(false);
  });

  it('blank numbers and choices mean unset: their defaults apply', () => {
    const blank = loadConfig({
      PORT: '',
      LOG_LEVEL: ' ',
      IMAGESEARCH_EP: '',
      TRUST_PROXY_HEADER: '',
      GEMINI_TIMEOUT_MS: '',
    });
    expect(blank.port).toBe(3000);
    expect(blank.logLevel).toBe('info');
    expect(blank.executionProvider).toBe('auto');
    expect(blank.proxyTrust.header).toBe('x-forwarded-for');
    expect(blank.geminiTimeoutMs).toBe(2500);
  });
});
