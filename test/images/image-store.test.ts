import { copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isImageSearchError } from '../../src/core/errors.ts';
import type { IndexEntry } from '../../src/core/types.ts';
import { DiskCache } from '../../src/images/disk-cache.ts';
import {
  hostsOf,
  IMAGE_STORE_DEFAULTS,
  type ImageStoreOptions,
  LocalAndRemoteImageStore,
} from '../../src/images/image-store.ts';
import { IMAGES_DIR, tempDir } from '../support/fixtures.ts';

/** A local image host with knobs for every failure the store must survive. */
class FakeImageHost {
  readonly hits = new Map<string, number>();
  readonly queries: URLSearchParams[] = [];
  inFlight = 0;
  maxInFlight = 0;
  photo = Buffer.alloc(0);
  private server = http.createServer((req, res) => void this.handle(req, res));
  base = '';

  async start(): Promise<void> {
    this.photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#3366cc' } })
      .jpeg()
      .toBuffer();
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  hitCount(pathname: string): number {
    return this.hits.get(pathname) ?? 0;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    const url = new URL(req.url ?? '/', this.base);
    const key = url.pathname + url.search;
    const n = (this.hits.get(url.pathname) ?? 0) + 1;
    this.hits.set(url.pathname, n);
    if (url.search) this.hits.set(key, (this.hits.get(key) ?? 0) + 1);
    this.queries.push(url.searchParams);
    const sendPhoto = () => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(this.photo);
    switch (url.pathname) {
      case '/photo.jpg':
        return sendPhoto();
      case '/missing.jpg':
        res.writeHead(404).end('not found');
        return;
      case '/flaky.jpg':
        if (n === 1) res.writeHead(503).end('busy');
        else sendPhoto();
        return;
      case '/down.jpg':
        res.writeHead(500).end('broken');
        return;
      case '/hang.jpg':
        return; // never answers
      case '/huge.jpg': {
        // No content-length: only counting the streamed bytes catches this.
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        for (let i = 0; i < 64 && !res.destroyed; i++) {
          res.write(Buffer.alloc(64 * 1024, 7));
          await new Promise((r) => setTimeout(r, 2));
        }
        res.end();
        return;
      }
      case '/slow.jpg':
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        await new Promise((r) => setTimeout(r, 120));
        this.inFlight--;
        return sendPhoto();
      case '/redirect-away.jpg':
        res.writeHead(302, { location: `${this.base.replace('127.0.0.1', 'localhost')}/photo.jpg` }).end();
        return;
      case '/redirect-home.jpg':
        res.writeHead(302, { location: '/photo.jpg' }).end();
        return;
      default:
        res.writeHead(404).end();
    }
  }
}

const host = new FakeImageHost();
beforeAll(() => host.start());
afterAll(() => host.stop());

function store(opts: Partial<ImageStoreOptions> = {}): LocalAndRemoteImageStore {
  // The fake host runs on 127.0.0.1 at a random port: configured (trusted), as IMAGE_HOSTS would.
  return new LocalAndRemoteImageStore({
    allowedHosts: ['127.0.0.1'],
    trustedHosts: ['127.0.0.1'],
    retryMinDelayMs: 10,
    ...opts,
  });
}

const remote = (p: string): IndexEntry => ({ id: p, url: `${host.base}${p}` });

async function expectCode(p: Promise<unknown>, code: string): Promise<unknown> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isImageSearchError(err), `expected ImageSearchError ${code}, got ${String(err)}`).toBe(true);
  expect(err).toMatchObject({ code });
  expect((err as { userMessage: string }).userMessage).toMatch(/\w/);
  return err;
}

describe('LocalAndRemoteImageStore: remote images', () => {
  it('fetches from an allowed host and returns a JPEG no wider than asked, aspect kept', async () => {
    const bytes = await store().get(remote('/photo.jpg'), 200);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([200, 150]);
  });

  it('refuses hosts, protocols and redirects outside the allow-list without a request', async () => {
    const s = store();
    const before = host.hitCount('/photo.jpg');
    await expectCode(s.get({ id: 'x', url: 'http://example.com/cat.jpg' }, 100), 'host_not_allowed');
    await expectCode(s.get({ id: 'x', url: 'file:///etc/passwd' }, 100), 'host_not_allowed');
    await expectCode(
      s.get({ id: 'x', url: `${host.base.replace('127.0.0.1', 'localhost')}/photo.jpg` }, 100),
      'host_not_allowed',
    );
    await expectCode(s.get(remote('/redirect-away.jpg'), 100), 'host_not_allowed');
    expect(host.hitCount('/photo.jpg')).toBe(before);
    expect(await s.get(remote('/redirect-home.jpg'), 100)).toBeInstanceOf(Buffer);
    expect(s.isAllowed(`${host.base}/x`)).toBe(true);
  });

  it('refuses an index host at a private address or another port unless IMAGE_HOSTS names it', async () => {
    // An index's hosts come from its manifest (data): allowed by name, but 127.0.0.1 on a random
    // port is neither public nor the scheme's port.
    const before = host.hitCount('/photo.jpg');
    await expectCode(store({ trustedHosts: [] }).get(remote('/photo.jpg'), 100), 'host_not_allowed');
    expect(host.hitCount('/photo.jpg')).toBe(before);
  });

  it('adds w= to resizing (imgix) hosts, keeping the other query parameters', async () => {
    const s = store({ resizeHosts: ['127.0.0.1'] });
    await s.get({ id: 'u', url: `${host.base}/photo.jpg?ixid=abc&fm=jpg` }, 320);
    const q = host.queries.at(-1)!;
    expect(q.get('w')).toBe('320');
    expect(q.get('ixid')).toBe('abc');
    expect(q.get('fm')).toBe('jpg');
    await store().get(remote('/photo.jpg'), 321);
    expect(host.queries.at(-1)!.has('w')).toBe(false); // not a resizing host
  });

  it('reports 404 as fetch_failed without retrying', async () => {
    await expectCode(store({ retries: 3 }).get(remote('/missing.jpg'), 100), 'fetch_failed');
    expect(host.hitCount('/missing.jpg')).toBe(1);
  });

  it('retries a 5xx and succeeds; gives up after the retry budget', async () => {
    expect(await store({ retries: 2 }).get(remote('/flaky.jpg'), 100)).toBeInstanceOf(Buffer);
    expect(host.hitCount('/flaky.jpg')).toBe(2);
    await expectCode(store({ retries: 2 }).get(remote('/down.jpg'), 100), 'fetch_failed');
    expect(host.hitCount('/down.jpg')).toBe(3);
  });

  it('times out a hanging host within the limit (no retry on timeout) and honours the caller abort', async () => {
    const t0 = Date.now();
    await expectCode(store({ timeoutMs: 300, retries: 2 }).get(remote('/hang.jpg'), 100), 'fetch_failed');
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1500);

    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('user went away')), 50);
    const t1 = Date.now();
    await expect(store({ timeoutMs: 5000 }).get(remote('/hang.jpg'), 100, ac.signal)).rejects.toThrow(
      'user went away',
    );
    expect(Date.now() - t1).toBeLessThan(1000);
  });

  it('aborts an oversized body as image_too_large', async () => {
    await expectCode(store({ maxResponseBytes: 200_000 }).get(remote('/huge.jpg'), 100), 'image_too_large');
  });

  it('limits concurrent requests to the host', async () => {
    host.maxInFlight = 0;
    const s = store({ concurrency: 2 });
    const all = Array.from({ length: 6 }, (_, i) =>
      s.get({ id: `s${i}`, url: `${host.base}/slow.jpg?i=${i}` }, 64),
    );
    await Promise.all(all);
    expect(host.maxInFlight).toBe(2);
  });
});

describe('LocalAndRemoteImageStore: thumbnail cache', () => {
  it('serves a repeat request from disk, across store instances', async () => {
    const cacheDir = tempDir();
    const entry = { id: 'c', url: `${host.base}/photo.jpg?cache=1` };
    const first = await store({ cacheDir }).get(entry, 120);
    const before = host.hitCount('/photo.jpg?cache=1');
    const again = await store({ cacheDir }).get(entry, 120);
    expect(host.hitCount('/photo.jpg?cache=1')).toBe(before);
    expect(again.equals(first)).toBe(true);
    await store({ cacheDir }).get(entry, 121); // another width is another thumbnail
    expect(host.hitCount('/photo.jpg?cache=1')).toBe(before + 1);
    expect(readdirSync(cacheDir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  it('stays within its byte bound, evicting the least recently used', async () => {
    const cacheDir = tempDir();
    const one = (await store().get(remote('/photo.jpg'), 200)).length;
    const cacheMaxBytes = one * 3 + 10;
    const s = store({ cacheDir, cacheMaxBytes });
    for (let i = 0; i < 8; i++) await s.get({ id: `e${i}`, url: `${host.base}/photo.jpg?evict=${i}` }, 200);
    expect(await new DiskCache({ dir: cacheDir, maxBytes: cacheMaxBytes }).sizeOnDisk()).toBeLessThanOrEqual(
      cacheMaxBytes,
    );
    const hitsBefore = host.hitCount('/photo.jpg?evict=7');
    await s.get({ id: 'e7', url: `${host.base}/photo.jpg?evict=7` }, 200); // newest survived
    expect(host.hitCount('/photo.jpg?evict=7')).toBe(hitsBefore);
    await s.get({ id: 'e0', url: `${host.base}/photo.jpg?evict=0` }, 200); // oldest was evicted
    expect(host.hitCount('/photo.jpg?evict=0')).toBe(2);
  });
});

/** A PNG whose header claims 60000×60000 px: tiny on disk, 10.8 GB if decoded. */
function pngBomb(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(60_000, 0);
  ihdr.writeUInt32BE(60_000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('LocalAndRemoteImageStore: local files', () => {
  let root = '';
  beforeEach(() => {
    root = path.join(tempDir(), 'images');
    mkdirSync(root);
    for (const f of ['cat_chelsea.png', 'horse_silhouette_rgba.png', 'brick_pavement_bw.png']) {
      copyFileSync(path.join(IMAGES_DIR, f), path.join(root, f));
    }
  });

  it('reads paths relative to imagesRoot (and absolute paths when allowed), resizing to JPEG', async () => {
    const s = store({ imagesRoot: root, allowAbsolutePaths: true });
    const orig = await sharp(path.join(root, 'cat_chelsea.png')).metadata();
    for (const p of ['cat_chelsea.png', path.join(root, 'cat_chelsea.png')]) {
      const meta = await sharp(await s.get({ id: 'cat', path: p }, 128)).metadata();
      expect(meta.format).toBe('jpeg');
      expect(meta.width).toBe(128);
      expect(meta.height).toBe(Math.round((orig.height! * 128) / orig.width!));
    }
    // Never enlarged; greyscale and transparent sources come out as plain 3-channel JPEGs.
    const big = await sharp(await s.get({ id: 'cat', path: 'cat_chelsea.png' }, 4000)).metadata();
    expect(big.width).toBe(orig.width);
    for (const f of ['horse_silhouette_rgba.png', 'brick_pavement_bw.png']) {
      const m = await sharp(await s.get({ id: f, path: f }, 100)).metadata();
      expect([m.format, m.channels, m.hasAlpha]).toEqual(['jpeg', 3, false]);
    }
  });

  it('refuses paths that leave imagesRoot (.., absolute, symlinks), and relative paths without one', async () => {
    const outside = path.join(path.dirname(root), 'outside.png');
    copyFileSync(path.join(IMAGES_DIR, 'cat_chelsea.png'), outside);
    symlinkSync(outside, path.join(root, 'link.png'));
    for (const p of ['../outside.png', outside, 'link.png', 'sub/../../outside.png']) {
      await expectCode(store({ imagesRoot: root }).get({ id: 'x', path: p }, 100), 'fetch_failed');
    }
    await expectCode(store().get({ id: 'x', path: 'cat_chelsea.png' }, 100), 'fetch_failed');
  });

  it('falls back to the URL when the local file is gone', async () => {
    const bytes = await store({ imagesRoot: root }).get(
      { id: 'x', path: 'gone.jpg', url: `${host.base}/photo.jpg` },
      64,
    );
    expect((await sharp(bytes).metadata()).width).toBe(64);
    await expectCode(store({ imagesRoot: root }).get({ id: 'x', path: 'gone.jpg' }, 64), 'fetch_failed');
  });

  it('rejects a corrupt file as image_invalid', async () => {
    writeFileSync(
      path.join(root, 'corrupt.jpg'),
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(500, 1)]),
    );
    await expectCode(store({ imagesRoot: root }).get({ id: 'x', path: 'corrupt.jpg' }, 100), 'image_invalid');
  });

  it('rejects a decompression bomb and an oversized file as image_too_large', async () => {
    writeFileSync(path.join(root, 'bomb.png'), pngBomb());
    const t0 = Date.now();
    await expectCode(store({ imagesRoot: root }).get({ id: 'b', path: 'bomb.png' }, 100), 'image_too_large');
    expect(Date.now() - t0).toBeLessThan(2000); // refused from the header, not after decoding
    await expectCode(
      store({ imagesRoot: root, maxFileBytes: 10_000 }).get({ id: 'c', path: 'cat_chelsea.png' }, 100),
      'image_too_large',
    );
  });

  it('honours EXIF orientation', async () => {
    // Stored 200×100, left half red, right half blue; orientation 6 = display rotated 90° clockwise.
    const left = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer();
    const stored = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#0000ff' } })
      .composite([{ input: left, left: 0, top: 0 }])
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    writeFileSync(path.join(root, 'rotated.jpg'), stored);
    const out = await store({ imagesRoot: root }).get({ id: 'r', path: 'rotated.jpg' }, 400);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([100, 200]);
    const px = (x: number, y: number) => Array.from(data.subarray((y * 100 + x) * 3, (y * 100 + x) * 3 + 3));
    expect(px(50, 30)[0]).toBeGreaterThan(200); // red on top after rotation
    expect(px(50, 170)[2]).toBeGreaterThan(200); // blue below
  });
});

describe('image store helpers', () => {
  it('collects the hosts of an index and keeps sane defaults', () => {
    const hosts = hostsOf([
      { id: '1', url: 'https://images.unsplash.com/photo-1?ixid=a' },
      { id: '2', url: 'https://Images.Unsplash.com/photo-2' },
      { id: '3', path: 'a.jpg' },
      { id: '4', url: 'not a url' },
    ]);
    expect(hosts).toEqual(['images.unsplash.com']);
    expect(IMAGE_STORE_DEFAULTS.timeoutMs).toBeLessThanOrEqual(10_000);
  });
});
