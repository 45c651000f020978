/**
 * Reading Gemini's answers (src/rerank/response.ts) on its own: real response bodies from
 * test/fixtures/gemini turned into the SDK's own GenerateContentResponse class, and the SDK's
 * ApiError. The reranker tests drive the same code over HTTP; these pin each rule so that a
 * mutation of one check cannot hide behind another.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError, GenerateContentResponse } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { MAX_REASON_CHARS } from '../../src/rerank/prompt.ts';
import {
  classifyError,
  DEFAULT_GEMINI_PRICES,
  parsePicks,
  parseRewrite,
  responseText,
  usageOf,
} from '../../src/rerank/response.ts';
import { FIXTURES_DIR } from '../support/fixtures.ts';

const FIREBASE = path.join(FIXTURES_DIR, 'gemini', 'firebase-mock-responses');
const raw = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(FIREBASE, name), 'utf8')) as Record<string, unknown>;
/** A fixture body as the SDK hands it to callers: an instance of its response class. */
const response = (body: Record<string, unknown>): GenerateContentResponse =>
  Object.assign(new GenerateContentResponse(), structuredClone(body));
/** The basic success fixture with its parts (and optionally finishReason) replaced. */
function withParts(parts: Array<Record<string, unknown>>, finishReason = 'STOP'): GenerateContentResponse {
  const body = raw('googleai__unary-success-basic-reply-short.json');
  const c = (body.candidates as Array<Record<string, unknown>>)[0]!;
  c.content = { role: 'model', parts };
  c.finishReason = finishReason;
  return response(body);
}
const picks = (...indices: number[]) =>
  JSON.stringify({ picks: indices.map((index) => ({ index, reason: `r${index}` })) });

describe('responseText', () => {
  it('returns the answer text of a plain success, trimmed', () => {
    expect(responseText(withParts([{ text: '  {"a":1}\n' }]))).toEqual({ ok: true, text: '{"a":1}' });
    const fixture = response(raw('googleai__unary-success-basic-reply-short.json'));
    expect(responseText(fixture)).toMatchObject({ ok: true });
  });

  it('skips thought parts (the thinking fixture answers "Mountain View" after a long thought)', () => {
    const res = response(raw('googleai__unary-success-thinking-reply-thought-summary.json'));
    expect(responseText(res)).toEqual({ ok: true, text: 'Mountain View' });
  });

  it('joins several answer parts, ignores parts without text, and a thought alone is no answer', () => {
    const res = withParts([
      { text: '{"picks":' },
      { inlineData: { mimeType: 'image/png', data: 'AA==' } },
      { text: '[]}' },
    ]);
    expect(responseText(res)).toEqual({ ok: true, text: '{"picks":[]}' });
    expect(responseText(withParts([{ text: picks(1, 2, 3, 4), thought: true }], 'MAX_TOKENS'))).toEqual({
      ok: false,
      reason: 'empty_response',
    });
    // thought: false is an ordinary answer part.
    expect(responseText(withParts([{ text: 'x', thought: false }]))).toEqual({ ok: true, text: 'x' });
  });

  it('prompt blocks: blockReason, or a blockReasonMessage with no candidates', () => {
    expect(responseText(response(raw('vertexai__unary-failure-prompt-blocked-safety.json')))).toEqual({
      ok: false,
      reason: 'safety_block',
    });
    expect(responseText(response(raw('googleai__unary-failure-only-prompt-feedback.json')))).toEqual({
      ok: false,
      reason: 'safety_block',
    });
    // A message beside a real candidate is feedback, not a block.
    const body = raw('googleai__unary-success-basic-reply-short.json');
    body.promptFeedback = { blockReasonMessage: 'note' };
    expect(responseText(response(body))).toMatchObject({ ok: true });
  });

  it.each([
    'SAFETY',
    'BLOCKLIST',
    'PROHIBITED_CONTENT',
    'SPII',
    'IMAGE_SAFETY',
    'IMAGE_PROHIBITED_CONTENT',
    'RECITATION',
  ])('finishReason %s → safety_block even with text', (finishReason) => {
    expect(responseText(withParts([{ text: picks(1) }], finishReason))).toEqual({
      ok: false,
      reason: 'safety_block',
    });
  });

  it('the recorded SAFETY finish and the OTHER finish without content', () => {
    expect(responseText(response(raw('googleai__unary-failure-finish-reason-safety.json')))).toEqual({
      ok: false,
      reason: 'safety_block',
    });
    expect(responseText(response(raw('googleai__unary-failure-with-message-no-content.json')))).toEqual({
      ok: false,
      reason: 'empty_response',
    });
  });

  it('MAX_TOKENS and STOP pass the text on (the parser judges it); blank text is empty', () => {
    expect(responseText(withParts([{ text: '{"picks":[{"ind' }], 'MAX_TOKENS'))).toEqual({
      ok: true,
      text: '{"picks":[{"ind',
    });
    expect(responseText(withParts([{ text: '   \n' }]))).toEqual({ ok: false, reason: 'empty_response' });
    expect(responseText(response({}))).toEqual({ ok: false, reason: 'empty_response' });
  });
});

describe('parsePicks', () => {
  it('maps 1-based indices to 0-based positions, best first, with reasons', () => {
    expect(parsePicks(picks(3, 1, 10, 2), 10, 4)).toEqual({
      ok: true,
      picks: [
        { position: 2, reason: 'r3' },
        { position: 0, reason: 'r1' },
        { position: 9, reason: 'r10' },
        { position: 1, reason: 'r2' },
      ],
    });
  });

  it('accepts the edges of the range and fewer picks than wanted', () => {
    expect(parsePicks(picks(1, 10), 10, 4)).toMatchObject({
      ok: true,
      picks: [{ position: 0 }, { position: 9 }],
    });
    expect(parsePicks(picks(5), 5, 4)).toMatchObject({ ok: true, picks: [{ position: 4 }] });
  });

  it.each([
    ['one above the range', picks(1, 2, 3, 11)],
    ['zero', picks(0, 1, 2, 3)],
    ['negative', picks(-1)],
    ['fractional', JSON.stringify({ picks: [{ index: 1.5, reason: '' }] })],
    ['repeated', picks(2, 3, 2)],
    ['more than wanted', picks(1, 2, 3, 4, 5)],
  ])('%s → invalid_indices', (_name, text) => {
    expect(parsePicks(text, 10, 4)).toEqual({ ok: false, reason: 'invalid_indices' });
  });

  it('wants more than were shown: at most as many picks as shown', () => {
    expect(parsePicks(picks(1, 2, 3), 3, 4)).toMatchObject({ ok: true });
    expect(parsePicks(picks(1, 2, 3, 4), 3, 4)).toEqual({ ok: false, reason: 'invalid_indices' });
    expect(parsePicks(picks(1, 2, 3, 4), 5, 3)).toEqual({ ok: false, reason: 'invalid_indices' });
  });

  it.each([
    ['not JSON', 'Here are my picks: 3, 1, 4 and 2.'],
    ['wrong key', JSON.stringify({ best: [1, 2] })],
    ['index as a string', JSON.stringify({ picks: [{ index: '3', reason: 'x' }] })],
    ['no picks', JSON.stringify({ picks: [] })],
    ['more than 50 picks', picks(...Array.from({ length: 51 }, (_, i) => i + 1))],
    ['a bare array', JSON.stringify([{ index: 1 }])],
  ])('%s → malformed_response', (_name, text) => {
    expect(parsePicks(text, 100, 100)).toEqual({ ok: false, reason: 'malformed_response' });
  });

  it('reads JSON inside a ```json or bare ``` fence, and only a fence', () => {
    const body = picks(2, 1);
    expect(parsePicks(`\`\`\`json\n${body}\n\`\`\``, 10, 4)).toMatchObject({ ok: true });
    expect(parsePicks(`\`\`\`\n${body}\n\`\`\``, 10, 4)).toMatchObject({ ok: true });
    expect(parsePicks(`\`\`\`json ${body}\`\`\``, 10, 4)).toMatchObject({ ok: true });
    expect(parsePicks(`Sure! ${body}`, 10, 4)).toEqual({ ok: false, reason: 'malformed_response' });
  });

  it('strips only a fence around the whole answer: backticks inside a reason stay', async () => {
    const reason = 'looks like ```json code``` on a screen';
    const body = JSON.stringify({ picks: [{ index: 1, reason }] });
    expect(parsePicks(body, 10, 4)).toMatchObject({ ok: true, picks: [{ reason }] });
    expect(parsePicks(`\`\`\`json\n${body}\n\`\`\``, 10, 4)).toMatchObject({ ok: true, picks: [{ reason }] });
    // No whitespace between the fence and the JSON.
    expect(parsePicks(`\`\`\`json${body}\`\`\``, 10, 4)).toMatchObject({ ok: true, picks: [{ reason }] });
  });

  it('cleans reasons: control and format characters become spaces, whitespace collapses, capped', () => {
    const reason = `\u0000 a\u200bb \t\n c ${'x'.repeat(300)}`;
    const res = parsePicks(JSON.stringify({ picks: [{ index: 1, reason }, { index: 2 }] }), 10, 4);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const first = res.picks[0]!.reason;
    expect(first.startsWith('a b c xxx')).toBe(true);
    expect(first).toHaveLength(MAX_REASON_CHARS);
    expect(res.picks[1]!.reason).toBe('');
  });
});

describe('parseRewrite', () => {
  it('returns the cleaned query, also from a fence', () => {
    expect(parseRewrite(JSON.stringify({ query: '  red\u0007 cars \n at night ' }), 50)).toBe(
      'red cars at night',
    );
    expect(parseRewrite('```json\n{"query":"dogs"}\n```', 50)).toBe('dogs');
  });

  it('a control character between words becomes a space, not nothing', () => {
    expect(parseRewrite(JSON.stringify({ query: 'red\u0007cars' }), 50)).toBe('red cars');
  });

  it('rejects empty, too long and wrong-shaped answers; exactly the limit is fine', () => {
    expect(parseRewrite(JSON.stringify({ query: ' \u200b ' }), 50)).toBeUndefined();
    expect(parseRewrite(JSON.stringify({ query: 'x'.repeat(51) }), 50)).toBeUndefined();
    expect(parseRewrite(JSON.stringify({ query: 'x'.repeat(50) }), 50)).toBe('x'.repeat(50));
    expect(parseRewrite(JSON.stringify({ q: 'dogs' }), 50)).toBeUndefined();
    expect(parseRewrite('dogs', 50)).toBeUndefined();
  });
});

describe('classifyError', () => {
  const api = (status: number, body: Record<string, unknown> = {}) =>
    // The message the SDK builds: status line, then the JSON error body.
    new ApiError({ status, message: `got status: ${status} . ${JSON.stringify(body)}` });

  it('maps HTTP statuses from the SDK into reasons, with the status', () => {
    expect(classifyError(api(429, raw('vertexai__unary-failure-quota-exceeded.json')))).toEqual({
      reason: 'rate_limited',
      httpStatus: 429,
    });
    expect(classifyError(api(500))).toEqual({ reason: 'server_error', httpStatus: 500 });
    expect(classifyError(api(503))).toEqual({ reason: 'server_error', httpStatus: 503 });
    expect(classifyError(api(401))).toEqual({ reason: 'auth_failed', httpStatus: 401 });
    expect(classifyError(api(403))).toEqual({ reason: 'auth_failed', httpStatus: 403 });
    expect(classifyError(api(400, raw('googleai__unary-failure-api-key.json')))).toEqual({
      reason: 'auth_failed',
      httpStatus: 400,
    });
    expect(classifyError(api(404, raw('googleai__unary-failure-unknown-model.json')))).toEqual({
      reason: 'model_not_found',
      httpStatus: 404,
    });
    expect(classifyError(api(400, raw('vertexai__unary-failure-image-rejected.json')))).toEqual({
      reason: 'bad_request',
      httpStatus: 400,
    });
    expect(classifyError(api(499))).toEqual({ reason: 'bad_request', httpStatus: 499 });
  });

  it('aborts and timeouts, unparsable bodies, and anything else', () => {
    expect(classifyError(new DOMException('x', 'AbortError'))).toEqual({ reason: 'timeout' });
    expect(classifyError(new DOMException('x', 'TimeoutError'))).toEqual({ reason: 'timeout' });
    expect(classifyError(new SyntaxError('Unexpected token'))).toEqual({ reason: 'malformed_response' });
    expect(classifyError(new TypeError('fetch failed'))).toEqual({ reason: 'network_error' });
    expect(classifyError('a string')).toEqual({ reason: 'network_error' });
  });
});

describe('usageOf', () => {
  const thinking = response(raw('googleai__unary-success-thinking-reply-thought-summary.json'));

  it('counts thinking tokens as output, as Google bills them', () => {
    // The fixture: prompt 14, candidates 2, thoughts 24, total 40.
    expect(usageOf(thinking, undefined)).toEqual({ promptTokens: 14, outputTokens: 26, totalTokens: 40 });
  });

  it('estimates cost from per-million prices, rounded to 1e-8 USD', () => {
    const price = { inputPerMTok: 1, outputPerMTok: 10 };
    expect(usageOf(thinking, price)?.estimatedCostUsd).toBe((14 * 1 + 26 * 10) / 1e6);
    const third = { inputPerMTok: 1 / 3, outputPerMTok: 0 };
    expect(usageOf(thinking, third)?.estimatedCostUsd).toBe(Math.round((14 / 3 / 1e6) * 1e8) / 1e8);
  });

  it('the default price for gemini-2.5-flash is the published list price ($0.30 in, $2.50 out)', () => {
    const flash = DEFAULT_GEMINI_PRICES['gemini-2.5-flash'];
    expect(usageOf(thinking, flash)?.estimatedCostUsd).toBeCloseTo((14 * 0.3 + 26 * 2.5) / 1e6, 12);
  });

  it('missing counts are zero and a missing total is the sum; no metadata, no usage', () => {
    const partial = response({ usageMetadata: { promptTokenCount: 7 } });
    expect(usageOf(partial, undefined)).toEqual({ promptTokens: 7, outputTokens: 0, totalTokens: 7 });
    const outOnly = response({ usageMetadata: { candidatesTokenCount: 3 } });
    expect(usageOf(outOnly, undefined)).toEqual({ promptTokens: 0, outputTokens: 3, totalTokens: 3 });
    expect(usageOf(response({}), { inputPerMTok: 1, outputPerMTok: 1 })).toBeUndefined();
    expect(usageOf(undefined, undefined)).toBeUndefined();
  });
});
