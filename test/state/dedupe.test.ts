/**
 * The one dedupe mechanism (src/state/dedupe.ts) that the engine and every adapter share: these
 * were the Slack and Discord adapters' own dedupe tests, kept as they were.
 */
import { describe, expect, it } from 'vitest';
import { MemoryDedupe } from '../../src/state/dedupe.ts';

describe('dedupe: Slack deliveries', () => {
  it('forgets keys after the TTL', async () => {
    let now = 0;
    const d = new MemoryDedupe({ now: () => now });
    expect(await d.claim('a', 1000)).toBe(true);
    expect(await d.claim('a', 1000)).toBe(false);
    now = 1500;
    expect(await d.claim('a', 1000)).toBe(true);
  });
});

describe('dedupe: Discord deliveries', () => {
  it('remembers ids for the TTL and forgets the oldest past the bound', async () => {
    let now = 0;
    const d = new MemoryDedupe({ maxKeys: 2, now: () => now });
    expect(await d.claim('a', 1000)).toBe(true);
    expect(await d.claim('a', 1000)).toBe(false);
    now = 1001;
    expect(await d.claim('a', 1000)).toBe(true);
    await d.claim('b', 1000);
    await d.claim('c', 1000);
    expect(d.size).toBe(2);
    expect(await d.claim('a', 1000)).toBe(true);
  });
});

describe('dedupe: injected clock', () => {
  it('forgets keys after the TTL whatever the clock read at the claim, 1 ms included', async () => {
    let now = 1;
    const d = new MemoryDedupe({ now: () => now });
    expect(await d.claim('a', 1000)).toBe(true);
    now = 1001;
    expect(await d.claim('a', 1000)).toBe(false);
    now = 1002;
    expect(await d.claim('a', 1000)).toBe(true);
  });
});
