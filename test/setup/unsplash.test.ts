import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchThumbnails, readSkipped, SKIPPED_FILE } from '../../src/setup/thumbnails.ts';
import { readDelimited, readPhotos } from '../../src/setup/unsplash-tsv.ts';
import { extractMatching, isSafeMemberName } from '../../src/setup/zip-extract.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { type HubPeer, startHubPeer } from '../peers/hub-peer.ts';
import { photosTsv, standardPhotos } from '../peers/unsplash-fixture.ts';
import { makeZip } from '../peers/zip-writer.ts';
import { tempDir } from '../support/fixtures.ts';
import { FAST_NETWORK } from './support/setup-fixtures.ts';

const logger = silentLogger();
/** The local peers stand in for the dataset's image host, as IMAGE_HOSTS would name it. */
const PEER_HOSTS = ['127.0.0.1'];

describe('photos.tsv parsing', () => {
  it('follows CSV quoting with a tab delimiter, per-part headers and a limit', async () => {
    const dir = tempDir();
    const specs = standardPhotos(5, []);
    const a = path.join(dir, 'photos.tsv000');
    const b = path.join(dir, 'photos.tsv001');
    writeFileSync(a, photosTsv(specs.slice(0, 3), 'https://images.example'));
    writeFileSync(b, photosTsv(specs.slice(3), 'https://images.example', 3).replace(/\n/g, '\r\n'));

    const records: string[][] = [];
    for await (const r of readDelimited(a)) records.push(r);
    expect(records).toHaveLength(4);
    expect(records[2]).toHaveLength(31);
    expect(records[2]?.[8]).toBe('A "quoted"\tdescription\nover two lines');

    const { photos } = await readPhotos([a, b]);
    expect(photos.map((p) => p.id)).toEqual(specs.map((s) => s.id));
    expect(photos[1]).toMatchObject({
      imageUrl: `https://images.example/photo-${specs[1]?.id}`,
      pageUrl: `https://unsplash.com/photos/${specs[1]?.id}`,
      photographer: 'First1 Last1',
      photographerUrl: 'https://unsplash.com/@user1',
      description: 'A "quoted" description over two lines',
      width: 4001,
      height: 3000,
    });
    expect(photos[4]?.photographer).toBe('First4');
    expect((await readPhotos([a, b], 4)).photos).toHaveLength(4);
  });

  it('rejects rows whose id could escape the images folder', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'photos.tsv000');
    writeFileSync(
      file,
      'photo_id\tphoto_image_url\n../../etc\thttps://x/y\nok_id\tjavascript:alert(1)\ngood\thttps://x/z\n',
    );
    const { photos, rejected } = await readPhotos([file]);
    expect(photos.map((p) => p.id)).toEqual(['good']);
    expect(rejected.map((r) => r.reason)).toEqual(['invalid photo_id', 'missing or invalid photo_image_url']);
  });
});

describe('archive extraction', () => {
  it('extracts only photos.tsv parts, by base name', async () => {
    const dir = tempDir();
    const zip = path.join(dir, 'a.zip');
    writeFileSync(
      zip,
      makeZip([
        { name: 'x/photos.tsv000', data: Buffer.from('a\n') },
        { name: 'x/keywords.tsv000', data: Buffer.from('b\n') },
        { name: 'x/photos.tsv001', data: Buffer.from('c\n'), method: 'store' },
      ]),
    );
    const out = path.join(dir, 'out');
    const r = await extractMatching({
      zipPath: zip,
      outDir: out,
      match: (n) => /^photos\.tsv\d{3}$/.test(n),
    });
    expect(r.files).toEqual(['photos.tsv000', 'photos.tsv001']);
    expect(readdirSync(out).sort()).toEqual(['photos.tsv000', 'photos.tsv001']);
    expect(
      (await extractMatching({ zipPath: zip, outDir: out, match: (n) => n.startsWith('photos') })).reused,
    ).toHaveLength(2);
  });

  it('refuses zip-slip names and oversized members', async () => {
    expect(isSafeMemberName('../photos.tsv000')).toBe(false);
    expect(isSafeMemberName('/etc/photos.tsv000')).toBe(false);
    expect(isSafeMemberName('a/b/photos.tsv000')).toBe(true);
    const dir = tempDir();
    const evil = path.join(dir, 'evil.zip');
    writeFileSync(evil, makeZip([{ name: '../../photos.tsv000', data: Buffer.from('x') }]));
    await expect(
      extractMatching({ zipPath: evil, outDir: path.join(dir, 'o'), match: () => true }),
    ).rejects.toThrow();
    expect(existsSync(path.join(dir, 'photos.tsv000'))).toBe(false);
    const big = path.join(dir, 'big.zip');
    writeFileSync(big, makeZip([{ name: 'photos.tsv000', data: Buffer.alloc(5000) }]));
    await expect(
      extractMatching({ zipPath: big, outDir: path.join(dir, 'o'), match: () => true, maxEntryBytes: 1000 }),
    ).rejects.toThrow(/limit/);
  });
});

describe('thumbnails', () => {
  let peer: HubPeer;
  const specs = standardPhotos(3);
  beforeEach(async () => {
    peer = await startHubPeer({ photos: specs });
  });
  afterEach(async () => {
    await peer.close();
  });

  it('keeps good and slow images, retries a 500, skips and records 404/410/hang/truncated/corrupt', async () => {
    const dir = path.join(tempDir(), 'images');
    const jobs = specs.map((s) => ({ id: s.id, url: `${peer.url}/images/photo-${s.id}` }));
    const started = Date.now();
    const r = await fetchThumbnails(jobs, {
      dir,
      logger,
      progress: false,
      trustedHosts: PEER_HOSTS,
      ...FAST_NETWORK.thumbnails,
    });
    expect(Date.now() - started).toBeLessThan(8000);
    const ok = specs.filter((s) => ['good', 'slow', 'flaky'].includes(s.kind)).map((s) => s.id);
    expect(r.ok).toEqual(ok);
    expect(
      readdirSync(dir)
        .filter((n) => n.endsWith('.jpg'))
        .sort(),
    ).toEqual(ok.map((id) => `${id}.jpg`).sort());
    const skipped = await readSkipped(path.join(dir, SKIPPED_FILE));
    const reasons = Object.fromEntries(
      specs.filter((s) => skipped.has(s.id)).map((s) => [s.kind, skipped.get(s.id)?.reason]),
    );
    expect(reasons).toEqual({
      missing: 'http_404',
      gone: 'http_410',
      hang: 'timeout',
      truncated: 'invalid_image',
      corrupt: 'invalid_image',
    });
    expect(skipped.get(specs.find((s) => s.kind === 'hang')?.id as string)?.transient).toBe(true);
    expect(peer.requests.find((q) => q.path.startsWith('/images/'))?.query).toBe('?w=640');

    // A rerun keeps what is on disk, does not ask again for permanent failures, retries the hang.
    peer.requests.length = 0;
    const again = await fetchThumbnails(jobs, {
      dir,
      logger,
      progress: false,
      trustedHosts: PEER_HOSTS,
      ...FAST_NETWORK.thumbnails,
    });
    expect(again.kept).toBe(ok.length);
    expect(again.fetched).toBe(0);
    expect(peer.requests.map((q) => q.path)).toEqual(
      Array(2).fill(`/images/photo-${specs.find((s) => s.kind === 'hang')?.id}`),
    );
    expect(readFileSync(path.join(dir, SKIPPED_FILE), 'utf8').trim().split('\n')).toHaveLength(5);
  });

  it('follows a redirect only on the photo’s own host', async () => {
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } })
      .jpeg()
      .toBuffer();
    const other: string[] = [];
    const elsewhere = http.createServer((req, res) => {
      other.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    });
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
    const otherPort = (elsewhere.address() as AddressInfo).port;
    const home = http.createServer((req, res) => {
      if (req.url?.startsWith('/away'))
        res.writeHead(302, { location: `http://localhost:${otherPort}/x.jpg` });
      else if (req.url?.startsWith('/moved')) res.writeHead(302, { location: '/real.jpg' });
      else res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(req.url?.startsWith('/real') ? jpeg : undefined);
    });
    await new Promise<void>((r) => home.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(home.address() as AddressInfo).port}`;
    try {
      const dir = path.join(tempDir(), 'images');
      const r = await fetchThumbnails(
        [
          { id: 'away', url: `${base}/away` },
          { id: 'moved', url: `${base}/moved` },
        ],
        {
          dir,
          logger,
          progress: false,
          trustedHosts: ['127.0.0.1', 'localhost'],
          ...FAST_NETWORK.thumbnails,
        },
      );
      expect(r.ok).toEqual(['moved']);
      expect(r.skipped.map((x) => [x.id, x.reason])).toEqual([['away', 'host_refused']]);
      expect(other).toEqual([]);
    } finally {
      await new Promise((r) => home.close(r));
      await new Promise((r) => elsewhere.close(r));
    }
  });

  it('caps the bytes of one image', async () => {
    const dir = path.join(tempDir(), 'images');
    const id = specs[0]?.id as string;
    const r = await fetchThumbnails([{ id, url: `${peer.url}/images/photo-${id}` }], {
      dir,
      logger,
      progress: false,
      trustedHosts: PEER_HOSTS,
      maxBytes: 100,
    });
    expect(r.skipped.map((s) => s.reason)).toEqual(['too_large']);
  });
});
