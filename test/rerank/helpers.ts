/**
 * Small real collaborators for the reranker tests: an ImageStore that renders solid-colour
 * images with sharp, candidate lists, a logger whose output lands in memory, the per-file Gemini
 * peer and a reranker factory.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { ImageStore, IndexEntry, RerankCandidate } from '../../src/core/types.ts';
import { GeminiClient, type GeminiClientOptions } from '../../src/rerank/gemini-client.ts';
import { GeminiReranker, type GeminiRerankerOptions } from '../../src/rerank/gemini-reranker.ts';
import { GeminiRewriter } from '../../src/rerank/gemini-rewriter.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';

export interface ColorImageStoreOptions {
  /** Ids whose image cannot be had (the store throws, as a 404 upstream would). */
  failIds?: Iterable<string>;
  /** Render this wide regardless of the width asked for (a store that cannot resize). */
  forceWidth?: number;
  format?: 'jpeg' | 'png';
  /** Delay before answering; honours the abort signal like a real fetch would. */
  delayMs?: number;
}

/** Renders a solid colour derived from the entry id, `width` wide at 3:2. */
export class ColorImageStore implements ImageStore {
  readonly calls: Array<{ id: string; width: number }> = [];
  private readonly failIds: Set<string>;

  constructor(private readonly opts: ColorImageStoreOptions = {}) {
    this.failIds = new Set(opts.failIds ?? []);
  }

  async get(entry: IndexEntry, width: number, signal?: AbortSignal): Promise<Buffer> {
    this.calls.push({ id: entry.id, width });
    if (this.opts.delayMs) {
      const ms = this.opts.delayMs;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        signal?.addEventListener('abort', () => {
          clearTimeout(t);
          reject(signal.reason);
        });
      });
    }
    if (this.failIds.has(entry.id)) throw new Error(`no image for ${entry.id}`);
    const w = this.opts.forceWidth ?? width;
    const [r = 0, g = 0, b = 0] = createHash('sha1').update(entry.id).digest();
    const img = sharp({
      create: { width: w, height: Math.round((w * 2) / 3), channels: 3, background: { r, g, b } },
    });
    return this.opts.format === 'png' ? img.png().toBuffer() : img.jpeg().toBuffer();
  }
}

/** `n` candidates `c1…cn` in CLIP order (descending score). */
export function candidates(n: number): RerankCandidate[] {
  return Array.from({ length: n }, (_, i) => {
    const id = `c${i + 1}`;
    return { id, score: 0.4 - i * 0.01, entry: { id, url: `https://images.example.test/${id}.jpg` } };
  });
}

/** A real pino logger (with the app's redaction) that writes JSON lines into `lines`. */
export function memoryLogger(): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: {
      write(msg: string) {
        lines.push(msg);
      },
    },
  });
  return { logger, lines, text: () => lines.join('') };
}

export function parsedLines(lines: string[]): Array<Record<string, unknown>> {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * One local Gemini peer per test file, reset after each test. Returns a stable handle (the peer
 * itself only exists once `beforeAll` has run).
 */
export function useGeminiPeer(): Pick<GeminiPeer, 'requests' | 'setMode'> & { readonly url: string } {
  let peer: GeminiPeer | undefined;
  beforeAll(async () => {
    peer = await startGeminiPeer();
  });
  afterAll(async () => {
    await peer?.close();
  });
  afterEach(() => {
    peer!.requests.length = 0;
    peer!.setMode('success');
  });
  return {
    get url() {
      return peer!.url;
    },
    get requests() {
      return peer!.requests;
    },
    setMode: (...args) => peer!.setMode(...args),
  };
}

/** What a test may set: the shared client's options and the reranker's own. */
export type GeminiTestOptions = Omit<GeminiClientOptions, 'logger'> & Omit<GeminiRerankerOptions, 'gemini'>;

/** A Gemini client against `baseUrl` with an in-memory log. */
function makeClient(baseUrl: string, apiKey: string, over: Partial<GeminiTestOptions>) {
  const log = memoryLogger();
  const { imageStore: _i, thumbWidth: _t, ...clientOptions } = over;
  const gemini = new GeminiClient({ apiKey, baseUrl, logger: log.logger, ...clientOptions });
  return { gemini, log };
}

/** A GeminiReranker against `baseUrl` with a solid-colour image store and an in-memory log. */
export function makeReranker(
  baseUrl: string,
  apiKey: string,
  over: Partial<GeminiTestOptions> = {},
): { r: GeminiReranker; log: ReturnType<typeof memoryLogger> } {
  const { gemini, log } = makeClient(baseUrl, apiKey, over);
  const r = new GeminiReranker({
    gemini,
    imageStore: over.imageStore ?? new ColorImageStore(),
    ...(over.thumbWidth !== undefined ? { thumbWidth: over.thumbWidth } : {}),
  });
  return { r, log };
}

/** A GeminiRewriter against `baseUrl` with an in-memory log. */
export function makeRewriter(
  baseUrl: string,
  apiKey: string,
  over: Partial<GeminiTestOptions> = {},
): { r: GeminiRewriter; log: ReturnType<typeof memoryLogger> } {
  const { gemini, log } = makeClient(baseUrl, apiKey, over);
  return { r: new GeminiRewriter(gemini), log };
}
