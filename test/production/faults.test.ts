/**
 * Faults: Gemini down, slow and answering garbage; Redis restarted mid-run; an image host that
 * hangs; a model file replaced by garbage. Each still answers, or fails with a clear message.
 */
import { cpSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBot } from '../../adapters/app/serve.ts';
import { ClipModel } from '../../src/clip/clip-model.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { ImageStore } from '../../src/core/types.ts';
import { LocalAndRemoteImageStore } from '../../src/images/image-store.ts';
import { createLogger, silentLogger } from '../../src/util/logger.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import { tempDir } from '../support/fixtures.ts';
import { createTestSearchService, getTinyModelDir } from '../support/models.ts';
import { freePort, type RedisHandle, redisServerInstalled, startRedis } from '../support/redis-server.ts';
import { startTinyBot, WebClient } from './harness.ts';

const rankedBy = (r: Awaited<ReturnType<WebClient['search']>>) =>
  r[1].kind === 'results' ? r[1].rankedBy : r[1].kind;

const GEMINI_TIMEOUT_MS = 1500;

describe('Gemini faults: searches still answer, in CLIP order', () => {
  let gemini: GeminiPeer;
  let bot: RunningBot;

  beforeAll(async () => {
    gemini = await startGeminiPeer();
    bot = await startTinyBot({
      GEMINI_API_KEY: 'test-key-faults',
      GEMINI_BASE_URL: gemini.url,
      // Generous enough that a cold first call (thumbnails included) fits on a loaded CI machine.
      GEMINI_TIMEOUT_MS: String(GEMINI_TIMEOUT_MS),
      RATE_LIMIT_PER_MINUTE: '1000',
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await gemini?.close();
  });

  it('uses Gemini when it works', async () => {
    expect(rankedBy(await new WebClient(bot.url).search('green hills'))).toBe('gemini');
  });

  it('answers within the deadline when Gemini is slow or hangs', async () => {
    for (const [mode, opts] of [
      ['slow', { delayMs: 8000 }],
      ['hang', {}],
    ] as const) {
      gemini.setMode(mode, opts);
      const t = performance.now();
      expect(rankedBy(await new WebClient(bot.url).search(`slow gemini ${mode}`))).toBe('clip');
      // The deadline plus search time, well short of the slow peer's 8 s.
      expect(performance.now() - t).toBeLessThan(GEMINI_TIMEOUT_MS + 2000);
    }
  });

  it('answers when Gemini returns garbage or errors', async () => {
    const kinds = ['not-json', 'wrong-shape', 'duplicate', 'out-of-range', 'too-many', 'fractional'] as const;
    for (const malformed of kinds) {
      gemini.setMode('malformed', { malformed });
      expect(rankedBy(await new WebClient(bot.url).search(`garbage ${malformed}`)), malformed).toBe('clip');
    }
    for (const mode of ['500', '429', 'safety', 'empty'] as const) {
      gemini.setMode(mode);
      expect(rankedBy(await new WebClient(bot.url).search(`error ${mode}`)), mode).toBe('clip');
    }
    gemini.setMode('success');
  });

  it('answers when nothing listens on the Gemini port', async () => {
    const closed = await startTinyBot({
      GEMINI_API_KEY: 'test-key-faults',
      GEMINI_BASE_URL: `http://127.0.0.1:${await freePort()}`,
    });
    try {
      expect(rankedBy(await new WebClient(closed.url).search('nobody home'))).toBe('clip');
    } finally {
      await closed.stop();
    }
  });
});

describe.skipIf(!redisServerInstalled())('Redis restarted mid-run', () => {
  let redis: RedisHandle;
  let bot: RunningBot;

  beforeAll(async () => {
    redis = await startRedis();
    bot = await startTinyBot({ STATE_URL: redis.url, RATE_LIMIT_PER_MINUTE: '1000' });
  });
  afterAll(async () => {
    await bot?.stop();
    await redis?.stop();
  });

  it('answers before, during and after the outage, and remembers again afterwards', async () => {
    const client = new WebClient(bot.url);
    const answered: string[] = [];
    const ask = async (text: string, followUp = false) => {
      const [status, reply] = await client.search(text, followUp);
      expect(status).toBe(200);
      answered.push(reply.kind);
      return reply;
    };
    expect((await ask('before the outage')).kind).toBe('results');
    expect((await ask('more red', true)).kind).toBe('results');

    await redis.stop();
    for (let i = 0; i < 5; i++) expect((await ask(`during the outage ${i}`)).kind).toBe('results');
    expect(bot.state.available).toBe(false);

    await redis.start();
    const deadline = Date.now() + 10_000;
    while (!bot.state.available && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(bot.state.available).toBe(true);
    expect((await ask('after the outage')).kind).toBe('results');
    // The follow-up finds the conversation saved after recovery: memory works again.
    const refined = await ask('but at night', true);
    expect(refined.kind).toBe('results');
    expect(refined.kind === 'results' && refined.query).toMatch(/night/);
    expect(answered.every((k) => k === 'results')).toBe(true);
  });
});

describe('a state store that cannot be reached at start', () => {
  it('stops the start with a message naming STATE_URL, never its value (it may hold a password)', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const url = `redis://imagesearch:s3cret-pass-word@127.0.0.1:${await freePort()}/0`;
    const started = Date.now();
    const failure = await startTinyBot(
      { STATE_URL: url },
      createLogger({ level: 'debug', destination: sink }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(ImageSearchError);
    const err = failure as ImageSearchError;
    expect(err.code).toBe('state_unavailable');
    expect(err.userMessage).toMatch(/STATE_URL/);
    expect(Date.now() - started).toBeLessThan(30_000);
    for (const text of [err.userMessage, err.message, lines.join('')]) {
      expect(text).not.toContain('s3cret-pass-word');
      expect(text).not.toContain(url);
    }
  });
});

describe('an image host that hangs', () => {
  let server: http.Server;
  let hangUrl: string;
  beforeAll(async () => {
    // Accepts the request, never answers.
    server = http.createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    hangUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/photo.jpg`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('still delivers the grid, with placeholder tiles, within the tile deadline', async () => {
    const remote = new LocalAndRemoteImageStore({
      allowedHosts: ['127.0.0.1'],
      trustedHosts: ['127.0.0.1'],
      timeoutMs: 30_000,
      retries: 0,
    });
    let local: ImageStore | undefined;
    const hanging = new Set<string>();
    // Two of the four picks live on the hanging host; the others are the index's local files.
    const images: ImageStore = {
      get: (entry, width, signal) =>
        hanging.has(entry.id)
          ? remote.get({ id: entry.id, url: hangUrl }, width, signal)
          : local!.get(entry, width, signal),
    };
    const tileTimeoutMs = 700;
    const stack = await createTestSearchService({ overrides: { images, tileTimeoutMs } });
    local = new LocalAndRemoteImageStore({
      allowedHosts: [],
      ...(stack.index.imagesRoot ? { imagesRoot: stack.index.imagesRoot } : {}),
    });
    try {
      const first = await stack.search.search({ text: 'a quiet lake', rerank: false });
      for (const p of first.picks.slice(0, 2)) hanging.add(p.id);
      const t = performance.now();
      const reply = await stack.search.search({ text: 'a quiet lake', rerank: false });
      const elapsed = performance.now() - t;
      expect(reply.picks).toHaveLength(4);
      expect(elapsed).toBeGreaterThanOrEqual(tileTimeoutMs - 50);
      expect(elapsed).toBeLessThan(tileTimeoutMs + 1500);
      const meta = await sharp(reply.grid).metadata();
      expect(meta.width).toBeGreaterThan(0);
    } finally {
      await stack.close();
    }
  });
});

describe('a model file replaced by garbage', () => {
  it('fails to load with a message naming the file, while a running bot keeps serving', async () => {
    const dir = path.join(tempDir(), 'model');
    cpSync(await getTinyModelDir(), dir, { recursive: true });
    // IMAGESEARCH_MODEL_VARIANT=fp32 below: onnx/text_model.onnx is the file loaded, then damaged.

    const bot = await startTinyBot({ IMAGESEARCH_MODEL_DIR: dir, IMAGESEARCH_MODEL_VARIANT: 'fp32' });
    try {
      const client = new WebClient(bot.url);
      expect((await client.search('before the damage'))[1].kind).toBe('results');
      writeFileSync(
        path.join(dir, 'onnx', 'text_model.onnx'),
        Buffer.from('this is not an ONNX model at all'),
      );

      const load = async () => {
        const model = await ClipModel.load({ dir, variant: 'fp32', logger: silentLogger() });
        try {
          await model.warm(['text']);
        } finally {
          await model.close();
        }
      };
      const err = await load().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ImageSearchError);
      expect((err as ImageSearchError).code).toBe('model_invalid');
      expect((err as ImageSearchError).userMessage).toMatch(/text_model\.onnx/);

      // Already-loaded sessions live in memory: the running bot keeps answering.
      for (let i = 0; i < 3; i++)
        expect((await client.search(`after the damage ${i}`))[1].kind).toBe('results');
      expect((await fetch(`${bot.url}/readyz`)).status).toBe(200);
    } finally {
      await bot.stop();
    }
  });
});
