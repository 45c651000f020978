/**
 * /metrics and /readyz on the real bot (startBot over the tiny model, web adapter, Gemini peer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBot } from '../../adapters/app/serve.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { checkReadiness, type ReadinessReport } from '../../src/metrics/routes.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import { redisServerInstalled, startRedis } from '../support/redis-server.ts';
import { metricValue, startTinyBot, WebClient } from './harness.ts';

let gemini: GeminiPeer;
let bot: RunningBot;

beforeAll(async () => {
  gemini = await startGeminiPeer();
  bot = await startTinyBot({
    GEMINI_API_KEY: 'test-key-observability',
    GEMINI_BASE_URL: gemini.url,
    RATE_LIMIT_PER_MINUTE: '1000',
  });
});

afterAll(async () => {
  await bot?.stop();
  await gemini?.close();
});

const scrape = async () => {
  const res = await fetch(`${bot.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};

describe('/metrics', () => {
  it('counts requests by platform and outcome, stage latencies, Gemini tokens and fallbacks', async () => {
    const web = new WebClient(bot.url);
    for (const q of ['red bicycle', 'a dog on a beach', 'city at night'])
      expect((await web.search(q))[1].kind).toBe('results');
    expect((await web.search('   '))[1].kind).toBe('notice');
    gemini.setMode('malformed', { malformed: 'not-json' });
    const [, fallback] = await web.search('mountains in fog');
    expect(fallback.kind === 'results' && fallback.rankedBy).toBe('clip');
    gemini.setMode('success');

    const text = await scrape();
    expect(metricValue(text, 'imagesearch_requests_total', { platform: 'web', outcome: 'results' })).toBe(4);
    expect(metricValue(text, 'imagesearch_requests_total', { platform: 'web', outcome: 'notice' })).toBe(1);
    for (const stage of ['encode', 'search', 'rerank', 'compose', 'total'])
      expect(metricValue(text, 'imagesearch_stage_duration_seconds_count', { stage })).toBe(4);
    expect(metricValue(text, 'imagesearch_stage_duration_seconds_count', { stage: 'upload' })).toBe(0);
    expect(metricValue(text, 'imagesearch_gemini_fallbacks_total', { reason: 'malformed_response' })).toBe(1);
    expect(
      metricValue(text, 'imagesearch_gemini_tokens_total', { op: 'rerank', kind: 'prompt' }),
    ).toBeGreaterThan(0);
    expect(metricValue(text, 'imagesearch_request_duration_seconds_count', { platform: 'web' })).toBe(5);
    // prom-client's default process metrics are there too.
    expect(text).toMatch(/^imagesearch_process_resident_memory_bytes \d+/m);
  });

  it('records uploads reported by adapters', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.observeUpload('slack', 0.25, true);
    metrics.observeUpload('discord', 1, false);
    const { body } = await metrics.expose();
    expect(metricValue(body, 'imagesearch_stage_duration_seconds_count', { stage: 'upload' })).toBe(1);
    expect(metricValue(body, 'imagesearch_uploads_total', { platform: 'discord', outcome: 'failed' })).toBe(
      1,
    );
  });
});

describe('/readyz', () => {
  it('is 200 with model, provider, index size and state when everything is loaded', async () => {
    const res = await fetch(`${bot.url}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as ReadinessReport;
    expect(body).toMatchObject({
      ready: true,
      model: { id: bot.core.model.modelId, variant: bot.core.model.variant, provider: { text: 'cpu' } },
      index: { size: bot.core.index.size },
      state: { backend: 'sqlite', available: true },
      problems: [],
    });
    expect(body.index?.size).toBeGreaterThan(0);
    expect((await fetch(`${bot.url}/healthz`)).status).toBe(200);
  });

  // A bot does not start without its store (test/production/faults.test.ts); losing it later
  // makes the bot unready, while it still answers.
  it.skipIf(!redisServerInstalled())(
    'is 503 and says what is wrong when the state store is lost',
    async () => {
      const redis = await startRedis();
      const down = await startTinyBot({ STATE_URL: redis.url });
      try {
        expect((await fetch(`${down.url}/readyz`)).status).toBe(200);
        await redis.stop();
        const res = await fetch(`${down.url}/readyz`);
        expect(res.status).toBe(503);
        const body = (await res.json()) as ReadinessReport;
        expect(body.ready).toBe(false);
        expect(body.state).toEqual({ backend: 'redis', available: false });
        expect(body.problems.join(' ')).toMatch(/redis state store is unreachable \(STATE_URL\)/);
        // Alive all the same: only readiness fails.
        expect((await fetch(`${down.url}/healthz`)).status).toBe(200);
      } finally {
        await down.stop();
        await redis.stop();
      }
    },
  );

  it('reports missing parts and shutdown', async () => {
    const report = await checkReadiness({
      state: { backend: 'memory', available: true },
      stopping: () => true,
    });
    expect(report.ready).toBe(false);
    expect(report.problems).toEqual([
      'the CLIP model is not loaded (IMAGESEARCH_MODEL_DIR)',
      'the index is not loaded (IMAGESEARCH_INDEX_DIR)',
      'shutting down',
    ]);
  });
});
