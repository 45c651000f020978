/**
 * Setup's downloads and extraction hold against a server or an archive that misbehaves: a body with
 * no Content-Length is capped, a resume without a validator starts over instead of splicing two
 * versions of a file, zip members' CRC-32s are checked, and the total extracted is capped.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadFile } from '../../src/setup/download.ts';
import { extractMatching } from '../../src/setup/zip-extract.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { makeZip } from '../peers/zip-writer.ts';
import { tempDir } from '../support/fixtures.ts';

const logger = silentLogger();
let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function serve(handler: http.RequestListener): Promise<string> {
  server = http.createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.bin`;
}

const FAST = { retries: 1, minDelayMs: 1, maxDelayMs: 1 };

describe('setup downloads', () => {
  it('caps a body sent without Content-Length', async () => {
    const url = await serve((_req, res) => {
      // Chunked, no length: the server could go on for ever.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < 50; i++) res.write(Buffer.alloc(1000, i));
      res.end();
    });
    const dest = path.join(tempDir(), 'file.bin');
    await expect(
      downloadFile({ url, dest, label: 'f', logger, progress: false, retry: FAST, maxBytes: 10_000 }),
    ).rejects.toThrow(/more than 10000 bytes/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`) ? statSync(`${dest}.part`).size : 0).toBeLessThanOrEqual(10_000);
  });

  it('starts over instead of resuming when the server gave no ETag or Last-Modified', async () => {
    const v1 = Buffer.alloc(4000, 1);
    const v2 = Buffer.alloc(4000, 2);
    const ranges: (string | undefined)[] = [];
    let calls = 0;
    const url = await serve((req, res) => {
      ranges.push(req.headers.range);
      calls++;
      if (calls === 1) {
        // Version 1, cut off halfway.
        res.writeHead(200, { 'content-length': String(v1.length) });
        res.write(v1.subarray(0, 2000));
        setTimeout(() => res.destroy(), 300);
        return;
      }
      // The file changed meanwhile; the server would honour a Range on the new version.
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m) {
        const from = Number(m[1]);
        res.writeHead(206, {
          'content-length': String(v2.length - from),
          'content-range': `bytes ${from}-${v2.length - 1}/${v2.length}`,
        });
        res.end(v2.subarray(from));
      } else {
        res.writeHead(200, { 'content-length': String(v2.length) });
        res.end(v2);
      }
    });
    const dest = path.join(tempDir(), 'file.bin');
    await downloadFile({ url, dest, label: 'f', logger, progress: false, retry: FAST });
    expect(readFileSync(dest).equals(v2)).toBe(true);
    expect(ranges).toEqual([undefined, undefined]);
  });
});

describe('archive extraction', () => {
  it('refuses a member whose CRC-32 does not match its bytes', async () => {
    const dir = tempDir();
    const zip = path.join(dir, 'bad.zip');
    writeFileSync(
      zip,
      makeZip([{ name: 'photos.tsv000', data: Buffer.from('photo_id\nabc\n'), crc: 0x12345678 }]),
    );
    await expect(
      extractMatching({ zipPath: zip, outDir: path.join(dir, 'o'), match: () => true }),
    ).rejects.toThrow(/CRC/);
    expect(existsSync(path.join(dir, 'o', 'photos.tsv000'))).toBe(false);
  });

  it('caps the total bytes extracted, not only each member', async () => {
    const dir = tempDir();
    const zip = path.join(dir, 'many.zip');
    writeFileSync(
      zip,
      makeZip([
        { name: 'photos.tsv000', data: Buffer.alloc(1000, 65) },
        { name: 'photos.tsv001', data: Buffer.alloc(1000, 66) },
      ]),
    );
    await expect(
      extractMatching({
        zipPath: zip,
        outDir: path.join(dir, 'o'),
        match: () => true,
        maxEntryBytes: 1000,
        maxTotalBytes: 1500,
      }),
    ).rejects.toThrow(/total/);
    expect(existsSync(path.join(dir, 'o', 'photos.tsv001'))).toBe(false);
  });
});
