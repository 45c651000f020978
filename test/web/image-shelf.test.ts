import { describe, expect, it } from 'vitest';
import { ImageShelf } from '../../adapters/web/image-shelf.ts';
import { createStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { tempDir } from '../support/fixtures.ts';

const store = () =>
  createStateStore({ url: 'memory://', dataDir: tempDir(), ttlMs: 60_000, logger: silentLogger() });
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);

describe('web image shelf', () => {
  it('shared: an image kept by one replica is served by another', async () => {
    const state = store();
    const a = new ImageShelf({ state, share: true });
    const b = new ImageShelf({ state, share: true });
    const id = await a.keep({ bytes: jpeg, mime: 'image/jpeg' });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const got = await b.get(id);
    expect(got?.mime).toBe('image/jpeg');
    expect(got?.bytes.equals(jpeg)).toBe(true);
    expect(await b.get('00000000-0000-0000-0000-000000000000')).toBeUndefined();
  });

  it('not shared (one process, SQLite): bytes stay in the process, the store never sees them', async () => {
    const state = store();
    const a = new ImageShelf({ state, share: false });
    const id = await a.keep({ bytes: jpeg, mime: 'image/jpeg' });
    expect((await a.get(id))?.bytes.equals(jpeg)).toBe(true);
    expect(await new ImageShelf({ state, share: false }).get(id)).toBeUndefined();
    expect(await state.get(`web:image:${id}`)).toBeUndefined();
  });

  it('expires from the store after its TTL, and ignores what is not an image', async () => {
    const state = store();
    const id = await new ImageShelf({ state, share: true, ttlMs: 1000 }).keep({
      bytes: jpeg,
      mime: 'image/jpeg',
    });
    expect(await new ImageShelf({ state, share: true }).get(id)).toBeDefined();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await new ImageShelf({ state, share: true }).get(id)).toBeUndefined();
    await state.set('web:image:11111111-1111-1111-1111-111111111111', { bytes: 'x', mime: 'text/html' });
    expect(
      await new ImageShelf({ state, share: true }).get('11111111-1111-1111-1111-111111111111'),
    ).toBeUndefined();
  });
});
