/**
 * A small, real {@link ConversationHandler} for adapter tests until (and besides) the real engine:
 * answers every request with a genuine JPEG grid composed by sharp, records what it was asked, and
 * can be told to fail or to answer slowly. Not a mock of any library.
 */
import sharp from 'sharp';
import { resultActions } from '../../src/core/actions.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { BotReply, ConversationHandler, Pick, SearchRequest } from '../../src/core/types.ts';

const COLORS = [
  { r: 200, g: 60, b: 60 },
  { r: 60, g: 160, b: 80 },
  { r: 60, g: 90, b: 200 },
  { r: 220, g: 180, b: 40 },
];
const TILE = 128;

let cachedGrid: Promise<Buffer> | undefined;
let cachedPhoto: Promise<Buffer> | undefined;

/** A 2x2 grid of coloured tiles, JPEG. Made once per process. */
export function gridJpeg(): Promise<Buffer> {
  cachedGrid ??= (async () => {
    const tiles = await Promise.all(
      COLORS.map((background) =>
        sharp({ create: { width: TILE, height: TILE, channels: 3, background } })
          .png()
          .toBuffer(),
      ),
    );
    return sharp({ create: { width: TILE * 2, height: TILE * 2, channels: 3, background: '#ffffff' } })
      .composite(tiles.map((input, i) => ({ input, left: (i % 2) * TILE, top: Math.floor(i / 2) * TILE })))
      .jpeg({ quality: 80 })
      .toBuffer();
  })();
  return cachedGrid;
}

/** One "full size" photo, JPEG. */
export function photoJpeg(): Promise<Buffer> {
  cachedPhoto ??= sharp({ create: { width: 320, height: 240, channels: 3, background: COLORS[2]! } })
    .jpeg()
    .toBuffer();
  return cachedPhoto;
}

function picks(): Pick[] {
  return [1, 2, 3, 4].map((n) => ({
    n,
    id: `photo-${n}`,
    score: 0.3 - n / 100,
    entry: {
      id: `photo-${n}`,
      url: `https://images.unsplash.com/photo-${n}`,
      pageUrl: `https://unsplash.com/photos/photo-${n}`,
      credit: { name: `Photographer ${n}`, url: `https://unsplash.com/@p${n}` },
    },
  }));
}

export interface RecordingHandlerOptions {
  /** Milliseconds to wait before answering (simulates search time). */
  delayMs?: number;
  /** Milliseconds to wait for this request in particular (a slow first refinement, a quick second). */
  delayFor?: (request: SearchRequest) => number;
  /** Throw this instead of answering. */
  fail?: Error;
  /** Answer this instead of a grid (notices, for example). */
  reply?: BotReply;
}

export class RecordingHandler implements ConversationHandler {
  readonly requests: SearchRequest[] = [];
  options: RecordingHandlerOptions;

  constructor(options: RecordingHandlerOptions = {}) {
    this.options = options;
  }

  async handle(request: SearchRequest): Promise<BotReply> {
    this.requests.push(request);
    const delay = this.options.delayFor?.(request) ?? this.options.delayMs;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    if (this.options.fail) throw this.options.fail;
    if (this.options.reply) return this.options.reply;
    const ps = picks();
    if (request.action?.type === 'open') {
      const pick = ps[request.action.n - 1];
      if (!pick) throw new ImageSearchError('not_found', 'There is no photo with that number.');
      return {
        kind: 'open',
        text: `Photo ${pick.n} by ${pick.entry.credit?.name} on Unsplash: ${pick.entry.pageUrl}`,
        pick,
        image: { bytes: await photoJpeg(), mime: 'image/jpeg', fileName: `photo-${pick.n}.jpg` },
      };
    }
    const query = request.text ?? (request.image ? 'your image' : 'more like that');
    const caption = `Results for “${query}” — photos by ${ps.map((p) => p.entry.credit?.name).join(', ')} on Unsplash`;
    // Like the engine: the message text is the caption (query and credits).
    return {
      kind: 'results',
      text: caption,
      actions: resultActions(4),
      reply: {
        query,
        picks: ps,
        grid: await gridJpeg(),
        mime: 'image/jpeg',
        fileName: 'imagesearch-grid.jpg',
        caption,
        rankedBy: 'clip',
        timingsMs: { total: 1 },
      },
    };
  }
}
