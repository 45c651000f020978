/**
 * A local stand-in for the Gemini Developer API (`POST /v1beta/models/{model}:generateContent`,
 * the path @google/genai 2.x calls), answering with the real response bodies recorded in
 * `test/fixtures/gemini/`. Tests drive the real SDK against it through `httpOptions.baseUrl`.
 *
 * Every request is recorded (parsed body + headers) so tests can assert on what was sent. Bodies
 * are checked against the request schema first (./gemini-request-schema.ts): what Google would
 * refuse gets Google's 400, whatever mode the peer is in.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FIXTURES_DIR } from '../support/fixtures.ts';
import { type GoogleErrorBody, validateGenerateContentRequest } from './gemini-request-schema.ts';

/** How the peer answers the next requests. */
export type GeminiPeerMode =
  | 'success'
  /** promptFeedback.blockReason SAFETY, no candidates. */
  | 'safety'
  /** A candidate with finishReason SAFETY. */
  | 'safety-finish'
  /** finishReason OTHER and no content. */
  | 'empty'
  | '429'
  /** API key not valid (INVALID_ARGUMENT / API_KEY_INVALID). */
  | '400'
  /** INVALID_ARGUMENT for an image ("Source image 0 too short"). */
  | 'image-rejected'
  /** Generative Language API disabled for the project. */
  | '403'
  /** Unknown model. */
  | '404'
  | '500'
  | 'malformed'
  /**
   * A thinking answer (includeThoughts on): a `thought: true` part whose text is itself valid-looking
   * picks JSON (a different choice), then the real answer part. Only the answer may be read.
   */
  | 'thought'
  /**
   * Thinking used the whole output budget: only a thought part (valid-looking picks JSON) and
   * finishReason MAX_TOKENS. There is no answer.
   */
  | 'thought-only'
  /** The answer was cut by maxOutputTokens: finishReason MAX_TOKENS and truncated JSON. */
  | 'max-tokens'
  /** The answer's JSON wrapped in a ```json Markdown fence (seen from some models even in JSON mode). */
  | 'fenced'
  /** No candidates, only `promptFeedback` with a `blockReasonMessage` (no blockReason). */
  | 'prompt-feedback-only'
  /** Success after `delayMs`. */
  | 'slow'
  /** Never answers; the socket is only closed by `close()` or the client. */
  | 'hang';

/** Flavours of a 200 answer whose content is unusable. */
export type MalformedKind =
  | 'not-json'
  | 'wrong-shape'
  | 'duplicate'
  /** Valid picks except ONE index, one above the highest candidate shown. */
  | 'out-of-range'
  /** Valid picks except ONE index 0 (indices are 1-based). */
  | 'zero'
  | 'too-many'
  | 'fractional';

export interface WirePart {
  text?: string;
  thought?: boolean;
  inlineData?: { mimeType?: string; data?: string };
}

/** The parts of a generateContent body the peer and tests look at (camelCase, as the SDK sends). */
export interface GeminiWireBody {
  contents?: Array<{ role?: string; parts?: WirePart[] }>;
  systemInstruction?: { role?: string; parts?: WirePart[] };
  generationConfig?: {
    responseMimeType?: string;
    responseJsonSchema?: JsonSchemaLike;
    responseSchema?: JsonSchemaLike;
    maxOutputTokens?: number;
    temperature?: number;
    thinkingConfig?: { thinkingBudget?: number };
  };
}

export interface JsonSchemaLike {
  type?: string;
  properties?: Record<string, JsonSchemaLike>;
  items?: JsonSchemaLike;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  required?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Model id from the path. */
  model: string;
  headers: IncomingHttpHeaders;
  body: GeminiWireBody;
  kind: 'rerank' | 'rewrite' | 'other';
  /** What the peer answered (status and JSON body); absent while a request is still pending. */
  response?: { status: number; body: unknown };
}

/** The parts of a 200 answer tests look at. */
export interface GeminiAnswer {
  candidates?: Array<{ content?: { parts?: WirePart[] }; finishReason?: string }>;
  usageMetadata?: {
    promptTokenCount?: number;
    candidatesTokenCount?: number;
    thoughtsTokenCount?: number;
    totalTokenCount?: number;
  };
}

/** The JSON body the peer answered to `rec`; throws when it has not answered (yet). */
export function answerOf(rec: RecordedRequest | undefined): GeminiAnswer {
  if (!rec?.response) throw new Error('gemini peer: no answer recorded for this request');
  return rec.response.body as GeminiAnswer;
}

/** What a pick function sees: the "Candidate i:" labels in the request and the count asked for. */
export interface PickContext {
  labels: number[];
  want: number;
  body: GeminiWireBody;
}

export type PickFn = (ctx: PickContext) => Array<{ index: number; reason?: string }>;

export interface GeminiPeerOptions {
  mode?: GeminiPeerMode;
  /** For 'slow' (default 1000 ms). */
  delayMs?: number;
  /** For 'malformed' (default 'not-json'). */
  malformed?: MalformedKind;
  /** For 'success'/'slow' rerank requests. Default: the candidates in reverse order. */
  pick?: PickFn;
  /** For 'success'/'slow' rewrite requests: the `query` to answer. */
  rewrite?: (body: GeminiWireBody) => string;
}

export interface GeminiPeer {
  /** Base URL for `httpOptions.baseUrl` (no trailing slash, no version). */
  url: string;
  requests: RecordedRequest[];
  setMode(mode: GeminiPeerMode, opts?: Omit<GeminiPeerOptions, 'mode'>): void;
  close(): Promise<void>;
}

const GEMINI_DIR = path.join(FIXTURES_DIR, 'gemini', 'firebase-mock-responses');

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(GEMINI_DIR, name), 'utf8')) as Record<string, unknown>;
}

/**
 * The js-genai recording whose answer was cut by maxOutputTokens: its response carries
 * finishReason MAX_TOKENS and thoughtsTokenCount, the real shape of a truncated answer.
 */
function maxTokensRecording(): Record<string, unknown> {
  const file = path.join(
    FIXTURES_DIR,
    'gemini',
    'js-genai-recordings',
    'Client_Tests_generateContent_ML_Dev_should_generate_content_with_specified_parameters.json',
  );
  const rec = JSON.parse(readFileSync(file, 'utf8')) as {
    interactions: Array<{ response: { bodySegments: Array<Record<string, unknown>> } }>;
  };
  return structuredClone(rec.interactions[0]!.response.bodySegments[0]!);
}

/** Default picks: the candidates in reverse order, so a reorder is visible in every test. */
export const reversePicks: PickFn = ({ labels, want }) =>
  [...labels]
    .reverse()
    .slice(0, want)
    .map((index) => ({ index, reason: `candidate ${index} fits` }));

function allParts(body: GeminiWireBody): WirePart[] {
  return [...(body.systemInstruction?.parts ?? []), ...(body.contents ?? []).flatMap((c) => c.parts ?? [])];
}

/** Rough token count as Gemini bills it: 258 per small image, ~4 characters per text token. */
export function estimateRequestTokens(body: GeminiWireBody): number {
  const parts = allParts(body);
  const images = parts.filter((p) => p.inlineData).length;
  const schema = body.generationConfig?.responseJsonSchema ?? body.generationConfig?.responseSchema;
  const chars =
    parts.reduce((n, p) => n + (p.text?.length ?? 0), 0) + (schema ? JSON.stringify(schema).length : 0);
  return images * 258 + Math.ceil(chars / 4);
}

function schemaOf(body: GeminiWireBody): JsonSchemaLike | undefined {
  return body.generationConfig?.responseJsonSchema ?? body.generationConfig?.responseSchema;
}

function successBody(text: string, body: GeminiWireBody, model: string): Record<string, unknown> {
  const res = fixture('googleai__unary-success-basic-reply-short.json');
  const candidates = res.candidates as Array<{ content: { parts: Array<{ text: string }> } }>;
  const first = candidates[0];
  if (first) first.content.parts = [{ text }];
  const prompt = estimateRequestTokens(body);
  const out = Math.ceil(text.length / 4);
  res.usageMetadata = {
    promptTokenCount: prompt,
    candidatesTokenCount: out,
    totalTokenCount: prompt + out,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
  };
  res.modelVersion = model;
  return res;
}

function malformedText(kind: MalformedKind, labels: number[], want: number): string {
  const max = Math.max(0, ...labels);
  const first = labels[0] ?? 1;
  switch (kind) {
    case 'not-json':
      return 'Here are my picks: 3, 1, 4 and 2.';
    case 'wrong-shape':
      return JSON.stringify({ best: [1, 2, 3, 4] });
    case 'duplicate':
      return JSON.stringify({
        picks: Array.from({ length: want }, () => ({ index: first, reason: 'same' })),
      });
    case 'out-of-range':
    case 'zero': {
      // Every other pick is valid and distinct, so the one bad index is the only fault.
      const bad = kind === 'zero' ? 0 : max + 1;
      const good = labels.slice(0, Math.max(0, want - 1)).map((index) => ({ index, reason: 'fits' }));
      return JSON.stringify({ picks: [...good, { index: bad, reason: 'not shown' }] });
    }
    case 'too-many':
      return JSON.stringify({ picks: labels.map((index) => ({ index, reason: 'all' })) });
    case 'fractional':
      return JSON.stringify({ picks: [{ index: 1.5, reason: 'half' }] });
  }
}

/** A 200 answer built on the thinking fixture: `thought` parts first, then the answer (if any). */
function thinkingBody(
  thoughtText: string,
  answer: string | undefined,
  finishReason: string,
  body: GeminiWireBody,
  model: string,
): Record<string, unknown> {
  const res = fixture('googleai__unary-success-thinking-reply-thought-summary.json');
  const candidate = (res.candidates as Array<Record<string, unknown>>)[0]!;
  const parts: WirePart[] = [{ text: thoughtText, thought: true }];
  if (answer !== undefined) parts.push({ text: answer });
  candidate.content = { parts, role: 'model' };
  candidate.finishReason = finishReason;
  const prompt = estimateRequestTokens(body);
  const out = Math.ceil((answer ?? '').length / 4);
  const thoughts = Math.ceil(thoughtText.length / 4);
  res.usageMetadata = {
    promptTokenCount: prompt,
    candidatesTokenCount: out,
    thoughtsTokenCount: thoughts,
    totalTokenCount: prompt + out + thoughts,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
  };
  res.modelVersion = model;
  return res;
}

/** Starts the peer on 127.0.0.1 and a random port. */
export async function startGeminiPeer(opts: GeminiPeerOptions = {}): Promise<GeminiPeer> {
  let current: GeminiPeerOptions = { mode: 'success', ...opts };
  const requests: RecordedRequest[] = [];

  const send = (res: ServerResponse, status: number, payload: unknown, rec?: RecordedRequest): void => {
    if (res.destroyed || res.writableEnded) return;
    if (rec) rec.response = { status, body: payload };
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(payload));
  };

  /** The immediate reply for a non-success mode, or undefined for the modes answered otherwise. */
  const otherReply = (
    mode: GeminiPeerMode,
    rec: RecordedRequest,
    apiKey: string,
    labels: number[],
    want: number,
    picksText: () => string,
  ): { status: number; payload: unknown } | undefined => {
    switch (mode) {
      case 'safety':
        return { status: 200, payload: fixture('vertexai__unary-failure-prompt-blocked-safety.json') };
      case 'safety-finish':
        return { status: 200, payload: fixture('googleai__unary-failure-finish-reason-safety.json') };
      case 'empty':
        return { status: 200, payload: fixture('googleai__unary-failure-with-message-no-content.json') };
      case 'prompt-feedback-only':
        return { status: 200, payload: fixture('googleai__unary-failure-only-prompt-feedback.json') };
      case 'malformed': {
        const text = malformedText(current.malformed ?? 'not-json', labels, want);
        return { status: 200, payload: successBody(text, rec.body, rec.model) };
      }
      case 'thought':
      case 'thought-only': {
        // The thought holds picks that LOOK valid (the CLIP top in order), unlike the answer's choice.
        const thought = JSON.stringify({
          picks: labels.slice(0, want).map((index) => ({ index, reason: 'first idea' })),
        });
        const payload =
          mode === 'thought'
            ? thinkingBody(thought, picksText(), 'STOP', rec.body, rec.model)
            : thinkingBody(thought, undefined, 'MAX_TOKENS', rec.body, rec.model);
        return { status: 200, payload };
      }
      case 'max-tokens': {
        const full = picksText();
        const res = maxTokensRecording();
        const candidate = (res.candidates as Array<{ content: { parts: WirePart[] } }>)[0]!;
        // Cut inside the second pick, as a hit output limit leaves it.
        candidate.content.parts = [{ text: full.slice(0, Math.max(1, Math.floor(full.length * 0.4))) }];
        res.modelVersion = rec.model;
        return { status: 200, payload: res };
      }
      case 'fenced':
        return {
          status: 200,
          payload: successBody(`\`\`\`json\n${picksText()}\n\`\`\``, rec.body, rec.model),
        };
      case '429':
        return { status: 429, payload: fixture('vertexai__unary-failure-quota-exceeded.json') };
      case '400': {
        // Google echoes the rejected key in the error details (the fixture shows "key1234"):
        // reproduce that, so tests prove error bodies never reach the logs.
        const body = JSON.stringify(fixture('googleai__unary-failure-api-key.json')).replace(
          'key1234',
          apiKey,
        );
        return { status: 400, payload: JSON.parse(body) };
      }
      case 'image-rejected':
        return { status: 400, payload: fixture('vertexai__unary-failure-image-rejected.json') };
      case '403':
        return {
          status: 403,
          payload: fixture('googleai__unary-failure-generativelanguage-api-not-enabled.json'),
        };
      case '404': {
        const body = JSON.stringify(fixture('googleai__unary-failure-unknown-model.json'));
        return { status: 404, payload: JSON.parse(body.replaceAll('gemini-5.0-flash', rec.model)) };
      }
      case '500':
        // No recorded 500 among the fixtures; this is the google.rpc.Status shape the others use.
        return {
          status: 500,
          payload: {
            error: {
              code: 500,
              message: 'An internal error has occurred. Please retry.',
              status: 'INTERNAL',
            },
          },
        };
      default:
        return undefined;
    }
  };

  const answer = (res: ServerResponse, rec: RecordedRequest, apiKey: string): void => {
    const mode = current.mode ?? 'success';
    const labels = allParts(rec.body)
      .map((p) => /^Candidate (\d+):/.exec(p.text ?? '')?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number);
    const want = schemaOf(rec.body)?.properties?.picks?.minItems ?? 4;
    const picksText = (): string =>
      rec.kind === 'rewrite'
        ? JSON.stringify({ query: (current.rewrite ?? (() => 'merged query'))(rec.body) })
        : JSON.stringify({ picks: (current.pick ?? reversePicks)({ labels, want, body: rec.body }) });
    const ok = (): void => send(res, 200, successBody(picksText(), rec.body, rec.model), rec);
    if (mode === 'hang') return;
    if (mode === 'success') {
      ok();
    } else if (mode === 'slow') {
      const timer = setTimeout(ok, current.delayMs ?? 1000);
      res.on('close', () => clearTimeout(timer));
    } else {
      const reply = otherReply(mode, rec, apiKey, labels, want, picksText);
      if (reply) send(res, reply.status, reply.payload, rec);
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const match = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(url.pathname);
      if (req.method !== 'POST' || !match?.[1]) {
        return send(res, 404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
      }
      let body: GeminiWireBody;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as GeminiWireBody;
      } catch {
        return send(res, 400, {
          error: { code: 400, message: 'Invalid JSON payload', status: 'INVALID_ARGUMENT' },
        });
      }
      const props = schemaOf(body)?.properties ?? {};
      const kind = 'picks' in props ? 'rerank' : 'query' in props ? 'rewrite' : 'other';
      const rec: RecordedRequest = {
        method: req.method,
        path: url.pathname,
        model: match[1],
        headers: req.headers,
        body,
        kind,
      };
      requests.push(rec);
      const key = req.headers['x-goog-api-key'];
      if (typeof key !== 'string' || key === '') {
        return send(
          res,
          403,
          {
            error: {
              code: 403,
              message: "Method doesn't allow unregistered callers.",
              status: 'PERMISSION_DENIED',
            },
          },
          rec,
        );
      }
      // Like Google: a malformed request is refused before any model runs, whatever the mode.
      const invalid: GoogleErrorBody | undefined = validateGenerateContentRequest(body);
      if (invalid) return send(res, 400, invalid, rec);
      answer(res, rec, key);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setMode(mode, o = {}) {
      current = { ...o, mode };
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Hung responses keep their sockets open; drop them so close() finishes.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
