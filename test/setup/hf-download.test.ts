import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadFile } from '../../src/setup/download.ts';
import { checkModelDir, downloadModel, MODEL_MARKER, modelFiles } from '../../src/setup/hf-download.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { ChecksumError, HttpStatusError } from '../../src/util/net-errors.ts';
import { type HubPeer, startHubPeer } from '../peers/hub-peer.ts';
import { tempDir } from '../support/fixtures.ts';
import { FAST_NETWORK, modelRepoFiles } from './support/setup-fixtures.ts';

const VISION = 'onnx/vision_model_quantized.onnx';

describe('model download from the hub', () => {
  let peer: HubPeer;
  let dir: string;
  const logger = silentLogger();
  const opts = () => ({
    endpoint: peer.url,
    repo: peer.repo,
    dir,
    logger,
    progress: false,
    retry: FAST_NETWORK.retry,
  });
  const cdnPath = (file: string) => `/cdn/${peer.sha256(file)}/${file}`;

  beforeEach(async () => {
    peer = await startHubPeer({ modelFiles: modelRepoFiles() });
    dir = path.join(tempDir(), 'model');
  });
  afterEach(async () => {
    await peer.close();
  });

  it('fetches every file of the variant, checks size and SHA-256, and writes the marker last', async () => {
    const r = await downloadModel(opts());
    expect(r.downloaded).toEqual(modelFiles('quantized'));
    for (const f of modelFiles('quantized')) {
      expect(readFileSync(path.join(dir, f)).equals(peer.files.get(f) as Buffer)).toBe(true);
    }
    const marker = JSON.parse(readFileSync(path.join(dir, MODEL_MARKER), 'utf8'));
    expect(marker.files.find((f: { path: string }) => f.path === VISION).sha256).toBe(peer.sha256(VISION));
    // huggingface_hub's protocol: HEAD on resolve (302 with X-Linked-*), bytes from the CDN.
    expect(peer.count(`/${peer.repo}/resolve/main/${VISION}`, 'HEAD')).toBe(1);
    expect(peer.count(cdnPath(VISION), 'GET')).toBe(1);
    expect(await checkModelDir(dir, 'auto')).toMatchObject({ ok: true, variant: 'quantized' });
    expect(readdirSync(path.join(dir, 'onnx')).filter((n) => n.includes('.part'))).toEqual([]);

    // A second run re-uses everything: no GETs.
    const before = peer.requests.filter((q) => q.method === 'GET').length;
    const again = await downloadModel(opts());
    expect(again.downloaded).toEqual([]);
    expect(peer.requests.filter((q) => q.method === 'GET').length).toBe(before);
  });

  it('rejects a corrupted byte, deletes the bad bytes and downloads again', async () => {
    peer.faults.corrupt.set(cdnPath(VISION), 1);
    await downloadModel(opts());
    expect(peer.count(cdnPath(VISION), 'GET')).toBe(2);
    expect(readFileSync(path.join(dir, VISION)).equals(peer.files.get(VISION) as Buffer)).toBe(true);
  });

  it('gives up with a checksum error when the bytes stay wrong, leaving no final file', async () => {
    peer.faults.corrupt.set(cdnPath(VISION), 100);
    await expect(downloadModel(opts())).rejects.toBeInstanceOf(ChecksumError);
    expect(existsSync(path.join(dir, VISION))).toBe(false);
    expect(existsSync(path.join(dir, `${VISION}.part`))).toBe(false);
    expect(existsSync(path.join(dir, MODEL_MARKER))).toBe(false);
    expect((await checkModelDir(dir, 'quantized')).ok).toBe(false);
  });

  it('resumes a dropped connection with Range instead of starting over', async () => {
    const size = (peer.files.get(VISION) as Buffer).length;
    peer.faults.dropAfter.set(cdnPath(VISION), { bytes: 250_000, times: 1 });
    await downloadModel(opts());
    const gets = peer.requests.filter((q) => q.path === cdnPath(VISION));
    expect(gets).toHaveLength(2);
    expect(gets[0]?.range).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(gets[1]?.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(250_000);
    expect(gets[1]?.status).toBe(206);
    // Every byte crossed the wire once (plus what was lost in flight when the socket dropped).
    expect(gets.reduce((n, q) => n + q.bytes, 0) - size).toBeLessThanOrEqual(250_000 - resumedAt);
    expect(gets[1]?.bytes).toBe(size - resumedAt);
    expect(readFileSync(path.join(dir, VISION)).equals(peer.files.get(VISION) as Buffer)).toBe(true);
  });

  it('starts over cleanly when the server ignores Range', async () => {
    peer.faults.dropAfter.set(cdnPath(VISION), { bytes: 100_000, times: 1 });
    peer.faults.ignoreRange = true;
    await downloadModel(opts());
    const gets = peer.requests.filter((q) => q.path === cdnPath(VISION));
    expect(gets).toHaveLength(2);
    expect(gets[1]?.range).toMatch(/^bytes=\d+-$/);
    expect(gets[1]?.status).toBe(200);
    expect(readFileSync(path.join(dir, VISION)).equals(peer.files.get(VISION) as Buffer)).toBe(true);
  });

  it('retries a 500 with backoff', async () => {
    peer.faults.fail500.set(cdnPath(VISION), 2);
    await downloadModel(opts());
    expect(peer.count(cdnPath(VISION), 'GET')).toBe(3);
  });

  it('takes the SHA-256 from the tree API when a mirror sends no X-Linked-* headers', async () => {
    peer.faults.noLinkedHeaders = true;
    const direct = `/${peer.repo}/resolve/main/${VISION}`;
    peer.faults.corrupt.set(direct, 1);
    await downloadModel(opts());
    expect(peer.count(`/api/models/${peer.repo}/tree/main/onnx`)).toBe(1);
    // The corrupted copy was caught by the tree API's LFS oid and fetched again.
    expect(peer.count(direct, 'GET')).toBe(2);
    expect(readFileSync(path.join(dir, VISION)).equals(peer.files.get(VISION) as Buffer)).toBe(true);
  });

  it('reports missing and gated repos as HTTP errors without retrying', async () => {
    await expect(downloadModel({ ...opts(), repo: 'nobody/nothing' })).rejects.toMatchObject({
      status: 401,
      hubErrorCode: 'RepoNotFound',
    });
    peer.faults.gated = true;
    const err = await downloadModel(opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).hubErrorCode).toBe('GatedRepo');
    expect(peer.count(`/${peer.repo}/resolve/main/config.json`, 'HEAD')).toBe(1);
  });

  it('a complete .part left by a kill just before the rename is verified, not fetched again (416)', async () => {
    const dest = path.join(dir, 'cfg.json');
    const file = `/${peer.repo}/resolve/main/config.json`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dest}.part`, peer.files.get('config.json') as Buffer);
    // The sidecar as the killed run wrote it from the first response: with its validator, without
    // which a .part is never trusted.
    writeFileSync(
      `${dest}.part.json`,
      JSON.stringify({ url: `${peer.url}${file}`, lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' }),
    );
    const r = await downloadFile({ url: `${peer.url}${file}`, dest, label: 'x', logger, progress: false });
    expect(peer.requests.map((q) => q.status)).toEqual([416]);
    expect(r.bytes).toBe((peer.files.get('config.json') as Buffer).length);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('a .part from another URL is never glued to a new download', async () => {
    const dest = path.join(dir, 'x.bin');
    const url = `${peer.url}/${peer.repo}/resolve/main/config.json`;
    peer.faults.dropAfter.set(`/${peer.repo}/resolve/main/config.json`, { bytes: 1000, times: 1 });
    await expect(
      downloadFile({ url, dest, label: 'x', logger, progress: false, retry: { retries: 0 } }),
    ).rejects.toBeTruthy();
    expect(existsSync(`${dest}.part`)).toBe(true);
    const other = `${peer.url}/${peer.repo}/resolve/main/tokenizer_config.json`;
    const r = await downloadFile({ url: other, dest, label: 'x', logger, progress: false });
    expect(r.resumedFrom).toBe(0);
    expect(readFileSync(dest).equals(peer.files.get('tokenizer_config.json') as Buffer)).toBe(true);
  });
});
