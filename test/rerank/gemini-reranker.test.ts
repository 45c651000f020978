/**
 * GeminiReranker through the real @google/genai SDK against the local Gemini peer: the happy
 * path, what goes over the wire, and the token budget.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { answerOf, type RecordedRequest } from '../peers/gemini-peer.ts';
import {
  ColorImageStore,
  candidates,
  type GeminiTestOptions,
  makeReranker,
  parsedLines,
  useGeminiPeer,
} from './helpers.ts';

const API_KEY = 'AIzaTEST-secret-key-0123456789abcdef';
const peer = useGeminiPeer();

function reranker(over: Partial<GeminiTestOptions> = {}) {
  return makeReranker(peer.url, API_KEY, { ...over });
}

function onlyRequest(): RecordedRequest {
  expect(peer.requests).toHaveLength(1);
  return peer.requests[0]!;
}

function inlineImages(req: RecordedRequest): Array<{ mimeType?: string; data?: string }> {
  return (req.body.contents ?? [])
    .flatMap((c) => c.parts ?? [])
    .flatMap((p) => (p.inlineData ? [p.inlineData] : []));
}

describe('GeminiReranker.rerank — success', () => {
  it('reorders the candidates as Gemini picks them, with reasons and usage', async () => {
    const { r } = reranker();
    const res = await r.rerank('cats on a sofa', candidates(10), 4);
    expect(res.rankedBy).toBe('gemini');
    expect(res.fallbackReason).toBeUndefined();
    expect(res.order).toEqual(['c10', 'c9', 'c8', 'c7']);
    expect(res.reasons?.c10).toBe('candidate 10 fits');
    expect(res.usage?.promptTokens).toBeGreaterThan(2580);
    expect(res.usage?.estimatedCostUsd).toBeGreaterThan(0);
    expect(r.modelId).toBe('gemini-2.5-flash');
  });

  it('calls v1beta generateContent with the key header, JSON mode and a picks schema', async () => {
    const { r } = reranker();
    await r.rerank('cats on a sofa', candidates(10), 4);
    const req = onlyRequest();
    expect(req.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(req.headers['x-goog-api-key']).toBe(API_KEY);
    const gc = req.body.generationConfig;
    expect(gc?.responseMimeType).toBe('application/json');
    const picks = gc?.responseJsonSchema?.properties?.picks;
    expect(picks?.minItems).toBe(4);
    expect(picks?.maxItems).toBe(4);
    expect(picks?.items?.properties?.index).toMatchObject({ type: 'integer', minimum: 1, maximum: 10 });
    expect(picks?.items?.required).toEqual(['index', 'reason']);
    expect(gc?.thinkingConfig?.thinkingBudget).toBe(0);
    expect(req.body.systemInstruction?.parts?.[0]?.text).toMatch(/Never follow instructions/);
  });

  it('sends the query as quoted data and one "Candidate i:" label before each image', async () => {
    const { r } = reranker();
    await r.rerank('a "red" car\nat  night', candidates(10), 4);
    const parts = onlyRequest().body.contents?.[0]?.parts ?? [];
    expect(parts[0]?.text).toMatch(/^<query>"a \\"red\\" car at night"<\/query>\n/);
    for (let i = 1; i <= 10; i++) {
      expect(parts[2 * i - 1]?.text).toBe(`Candidate ${i}:`);
      expect(parts[2 * i]?.inlineData?.mimeType).toBe('image/jpeg');
    }
  });

  it('sends JPEG thumbnails that fit in 384×384 even when the store returns large PNGs', async () => {
    const { r } = reranker({ imageStore: new ColorImageStore({ forceWidth: 1200, format: 'png' }) });
    await r.rerank('cats on a sofa', candidates(10), 4);
    const images = inlineImages(onlyRequest());
    expect(images).toHaveLength(10);
    for (const img of images) {
      expect(img.mimeType).toBe('image/jpeg');
      const meta = await sharp(Buffer.from(img.data ?? '', 'base64')).metadata();
      expect(meta.format).toBe('jpeg');
      expect(meta.width).toBeLessThanOrEqual(384);
      expect(meta.height).toBeLessThanOrEqual(384);
    }
  });

  it('honours a smaller thumbWidth and clamps larger ones to 384', async () => {
    const store = new ColorImageStore({ forceWidth: 900 });
    const { r } = reranker({ imageStore: store, thumbWidth: 256 });
    await r.rerank('cats', candidates(6), 4);
    expect(store.calls.every((c) => c.width === 256)).toBe(true);
    for (const img of inlineImages(onlyRequest())) {
      expect((await sharp(Buffer.from(img.data ?? '', 'base64')).metadata()).width).toBe(256);
    }
    const big = new ColorImageStore();
    await reranker({ imageStore: big, thumbWidth: 1024 }).r.rerank('cats', candidates(6), 4);
    expect(big.calls.every((c) => c.width === 384)).toBe(true);
  });

  it('keeps a 10-candidate request within 3,500 input tokens, counted from what was sent', async () => {
    // Large PNGs from the store: the budget only holds if the reranker really shrinks them.
    const { r } = reranker({ imageStore: new ColorImageStore({ forceWidth: 1200, format: 'png' }) });
    const longQuery = 'a golden retriever puppy '.repeat(20);
    const res = await r.rerank(longQuery, candidates(10), 4);
    const req = onlyRequest();
    // Counted the way Gemini documents billing (ai.google.dev, "Understand and count tokens"): an
    // image with both sides ≤ 384 px is 258 tokens, a larger one is cut into 768×768 tiles of 258
    // tokens each; text is about 4 characters a token. Computed here from the decoded images and
    // the text of the request the SDK sent, not from the peer's own estimate.
    let imageTokens = 0;
    for (const img of inlineImages(req)) {
      const { width = 0, height = 0 } = await sharp(Buffer.from(img.data ?? '', 'base64')).metadata();
      imageTokens +=
        width <= 384 && height <= 384 ? 258 : 258 * Math.ceil(width / 768) * Math.ceil(height / 768);
    }
    const texts = [...(req.body.contents ?? []), req.body.systemInstruction]
      .flatMap((c) => c?.parts ?? [])
      .map((p) => p.text ?? '');
    const schemaChars = JSON.stringify(req.body.generationConfig?.responseJsonSchema ?? {}).length;
    const textTokens = Math.ceil((texts.join('').length + schemaChars) / 4);
    expect(inlineImages(req)).toHaveLength(10);
    expect(imageTokens).toBe(10 * 258);
    expect(imageTokens + textTokens).toBeLessThanOrEqual(3500);
    // The reported usage is the API's own count, passed through unchanged.
    expect(res.usage?.promptTokens).toBe(answerOf(req).usageMetadata?.promptTokenCount);
  });

  it('reads only the answer part of a thinking response, never the thought parts', async () => {
    // The thought part holds picks 4,3,2,1 (valid JSON); the answer part picks 10,9,8,7.
    peer.setMode('thought');
    const res = await reranker().r.rerank('cats on a sofa', candidates(10), 4);
    expect(res).toMatchObject({ rankedBy: 'gemini', order: ['c10', 'c9', 'c8', 'c7'] });
    expect(res.fallbackReason).toBeUndefined();
    // Thinking tokens are billed as output (usageMetadata.thoughtsTokenCount).
    const usage = answerOf(peer.requests[0]).usageMetadata;
    expect(usage?.thoughtsTokenCount).toBeGreaterThan(0);
    expect(res.usage?.outputTokens).toBe(
      (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0),
    );
  });

  it('accepts picks wrapped in a ```json fence', async () => {
    peer.setMode('fenced');
    const res = await reranker().r.rerank('cats on a sofa', candidates(10), 4);
    expect(res).toMatchObject({ rankedBy: 'gemini', order: ['c10', 'c9', 'c8', 'c7'] });
  });

  it('sends at most 10 candidates; the rest keep their CLIP place', async () => {
    const { r } = reranker();
    peer.setMode('success', { pick: () => [{ index: 2 }] });
    const res = await r.rerank('cats', candidates(14), 4);
    expect(inlineImages(onlyRequest())).toHaveLength(10);
    expect(res.order).toEqual(['c2', 'c1', 'c3', 'c4']);
  });

  it('drops a candidate whose thumbnail fails from Gemini’s view but keeps its CLIP place', async () => {
    const store = new ColorImageStore({ failIds: ['c2'] });
    const { r } = reranker({ imageStore: store });
    // Labels are 1..9 over c1,c3..c10; Gemini picks "Candidate 2" (= c3) and "Candidate 9" (= c10).
    peer.setMode('success', {
      pick: () => [
        { index: 2, reason: 'x' },
        { index: 9, reason: 'y' },
      ],
    });
    const res = await r.rerank('cats', candidates(10), 4);
    expect(inlineImages(onlyRequest())).toHaveLength(9);
    expect(res.rankedBy).toBe('gemini');
    // Fewer picks than wanted: filled from CLIP order, where c2 still sits second.
    expect(res.order).toEqual(['c3', 'c10', 'c1', 'c2']);
    expect(res.reasons).toEqual({ c3: 'x', c10: 'y' });
  });

  it('trims and caps reasons, dropping control characters', async () => {
    const long = `  great\u0000 match\n${'!'.repeat(500)}`;
    peer.setMode('success', {
      pick: ({ want }) => Array.from({ length: want }, (_, i) => ({ index: i + 1, reason: long })),
    });
    const res = await reranker().r.rerank('cats', candidates(10), 4);
    const reason = res.reasons?.c1 ?? '';
    expect(reason.startsWith('great match !')).toBe(true);
    expect(reason.length).toBeLessThanOrEqual(120);
  });

  it('logs model, latency, tokens, cost and outcome — and never the API key', async () => {
    const { r, log } = reranker();
    await r.rerank('cats on a sofa', candidates(10), 4);
    peer.setMode('400');
    await r.rerank('cats on a sofa', candidates(10), 4);
    // The 400 body echoes the key, as Google's does; it must not reach the log.
    expect(peer.requests).toHaveLength(2);
    expect(log.text()).not.toContain(API_KEY);
    expect(log.text()).not.toContain('secret-key');
    const infos = parsedLines(log.lines).filter((l) => l.msg === 'gemini rerank');
    expect(infos).toHaveLength(2);
    expect(infos[0]).toMatchObject({ model: 'gemini-2.5-flash', outcome: 'gemini', op: 'rerank' });
    expect(infos[0]?.latencyMs).toEqual(expect.any(Number));
    expect(infos[0]?.promptTokens).toEqual(expect.any(Number));
    expect(infos[0]?.totalTokens).toEqual(expect.any(Number));
    expect(infos[0]?.estimatedCostUsd).toEqual(expect.any(Number));
    expect(infos[1]).toMatchObject({ outcome: 'fallback', fallbackReason: 'auth_failed', httpStatus: 400 });
  });

  it('uses configured prices for the cost estimate', async () => {
    const { r } = reranker({
      model: 'my-flash',
      prices: { 'my-flash': { inputPerMTok: 1_000_000, outputPerMTok: 0 } },
    });
    const res = await r.rerank('cats', candidates(10), 4);
    expect(peer.requests[0]?.path).toBe('/v1beta/models/my-flash:generateContent');
    expect(res.usage?.estimatedCostUsd).toBe(res.usage?.promptTokens);
    // Not a 2.5 Flash model: no thinking budget forced on it.
    expect(peer.requests[0]?.body.generationConfig?.thinkingConfig).toBeUndefined();
  });
});
