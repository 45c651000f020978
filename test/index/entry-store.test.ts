/**
 * The int8 index's on-disk entries (src/index/engines/entry-store.ts): the one scan at open (lines
 * across read chunks, blank lines, escaped ids, the worded refusals of a damaged file), lookups by id
 * through the FNV-1a hashes (collisions included) and the entry read and validated on demand.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EntryStore, hashId } from '../../src/index/engines/entry-store.ts';
import { tempDir } from '../support/fixtures.ts';

const bad = (why: string) => new Error(`damaged: ${why}`);

function file(text: string): string {
  const f = path.join(tempDir(), 'entries.jsonl');
  writeFileSync(f, text);
  return f;
}

const line = (e: object) => `${JSON.stringify(e)}\n`;

async function withStore<T>(text: string, count: number, use: (s: EntryStore) => Promise<T>): Promise<T> {
  const store = await EntryStore.open(file(text), count, bad);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

describe('hashId', () => {
  it('is 32-bit FNV-1a over UTF-16 code units', () => {
    expect(hashId('')).toBe(0x811c9dc5);
    expect(hashId('a')).toBe(0xe40c292c);
    expect(hashId('foobar')).toBe(0xbf9cf968);
    expect(hashId('é')).toBe(Math.imul(0x811c9dc5 ^ 0xe9, 0x01000193) >>> 0);
  });
});

describe('EntryStore', () => {
  it('reads rows and finds ids, skipping blank lines anywhere', async () => {
    const text = `\n${line({ id: 'a', path: 'a.jpg' })}\n\n${line({ id: 'b', width: 3 })}${line({ id: 'c' })}\n`;
    await withStore(text, 3, async (s) => {
      expect(s.count).toBe(3);
      expect(await s.get(0)).toEqual({ id: 'a', path: 'a.jpg' });
      expect(await s.get(1)).toEqual({ id: 'b', width: 3 });
      expect(await s.get(2)).toEqual({ id: 'c' });
      expect(await s.rowOf('c')).toBe(2);
      expect(await s.rowOf('a')).toBe(0);
      expect(await s.rowOf('zz')).toBeUndefined();
      expect(s.hashOfRow(1)).toBe(hashId('b'));
    });
  });

  it('lines split across the 1 MB read chunks, and a line longer than a chunk', async () => {
    const rows = 12_000; // ~100 bytes each: the file spans two chunks
    const pad = 'x'.repeat(80);
    const long = 'y'.repeat(2_500_000); // spans three chunks on its own
    const entries = Array.from({ length: rows }, (_, i) => ({ id: `r${i}`, description: pad }));
    entries.splice(7000, 0, { id: 'long', description: long });
    await withStore(entries.map(line).join(''), rows + 1, async (s) => {
      for (const i of [0, 6999, 7000, 7001, 10_500, rows]) expect(await s.get(i)).toEqual(entries[i]);
      expect(await s.rowOf('r11999')).toBe(rows);
      expect(await s.rowOf('long')).toBe(7000);
      expect(await s.rowOf('r10499')).toBe(10_500);
    });
  });

  it('decodes escaped ids, and finds an id that is not first in its line', async () => {
    const text =
      '{"id":"say \\"hi\\""}\n' +
      '{"id":"caf\\u00e9","path":"c.jpg"}\n' +
      '{"meta":{"id":"decoy"},"id":"real"}\n' +
      '{"path":"p.jpg","id":"later"}\n';
    await withStore(text, 4, async (s) => {
      expect(await s.rowOf('say "hi"')).toBe(0);
      expect(await s.rowOf('café')).toBe(1);
      expect(s.hashOfRow(1)).toBe(hashId('café'));
      expect(await s.rowOf('real')).toBe(2);
      expect(s.hashOfRow(2)).toBe(hashId('real'));
      expect(await s.rowOf('decoy')).toBeUndefined();
      expect(await s.rowOf('later')).toBe(3);
      expect(await s.get(3)).toEqual({ id: 'later', path: 'p.jpg' });
    });
  });

  it('resolves ids whose hashes collide to their own rows', async () => {
    const [x, y] = ['id-n1wu', 'id-0tfa'];
    expect(hashId(x)).toBe(hashId(y));
    const text = [{ id: 'other' }, { id: x }, { id: 'more' }, { id: y }, { id: 'last' }].map(line).join('');
    await withStore(text, 5, async (s) => {
      expect(await s.rowOf(x)).toBe(1);
      expect(await s.rowOf(y)).toBe(3);
      expect(await s.rowOf('id-n1wv')).toBeUndefined();
    });
  });

  it('a lookup reads only the rows whose hash matches: a damaged entry elsewhere does not break it', async () => {
    // Every other row fails the entry schema; only the row asked for (or none) is read.
    const ids = Array.from({ length: 30 }, (_, i) => `k${i}`);
    const text = ids.map((id, i) => line(i === 5 ? { id } : { id, width: 'wide' })).join('');
    await withStore(text, ids.length, async (s) => {
      expect(await s.rowOf('k5')).toBe(5);
      expect(await s.rowOf('absent')).toBeUndefined();
      await expect(s.get(6)).rejects.toThrow(/width/);
    });
  });

  it('validates an entry only when it is read: a line damaged after its id opens, and get() refuses it', async () => {
    const text = `{"id":"a",oops}\n{"id":"tab\there"}\n${line({ id: 'ok' })}`;
    await withStore(text, 3, async (s) => {
      expect(s.hashOfRow(0)).toBe(hashId('a'));
      expect(s.hashOfRow(1)).toBe(hashId('tab\there'));
      await expect(s.get(0)).rejects.toThrow(SyntaxError);
      await expect(s.get(1)).rejects.toThrow(SyntaxError);
      expect(await s.get(2)).toEqual({ id: 'ok' });
    });
  });

  it.each([
    [
      'more entries than the index says',
      `${line({ id: 'a' })}${line({ id: 'b' })}${line({ id: 'c' })}`,
      2,
      'it has more than 2 entries',
    ],
    ['fewer entries', line({ id: 'a' }), 2, 'it has 1 entries, expected 2'],
    [
      'a last line without its newline',
      `${line({ id: 'a' })}{"id":"b"}`,
      2,
      'the entries file ends in the middle of a line',
    ],
    ['a line that is not JSON', `${line({ id: 'a' })}not json\n`, 2, 'entry 2 is malformed'],
    ['a line without an id', `${line({ id: 'a' })}${line({ path: 'p' })}`, 2, 'entry 2 is malformed'],
    ['an empty id first', `${line({ id: 'a' })}{"id":""}\n`, 2, 'entry 2 is malformed'],
    ['an empty id later', `${line({ id: 'a' })}{"path":"p","id":""}\n`, 2, 'entry 2 is malformed'],
    ['a bad escape in an id', `${line({ id: 'a' })}{"id":"bad\\q"}\n`, 2, 'entry 2 is malformed'],
    ['an id that is not a string', `${line({ id: 'a' })}{"path":"p","id":7}\n`, 2, 'entry 2 is malformed'],
  ])('refuses %s, in words', async (_, text, count, why) => {
    await expect(EntryStore.open(file(text), count, bad)).rejects.toThrow(`damaged: ${why}`);
  });
});
