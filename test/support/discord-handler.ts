/**
 * A small real ConversationHandler for the Discord adapter tests: it answers every request with a
 * real JPEG grid made with sharp (four coloured tiles) and records what it was asked. The
 * end-to-end test with the real conversation engine lives elsewhere.
 */
import sharp from 'sharp';
import { resultActions } from '../../src/core/actions.ts';
import type { BotReply, ConversationHandler, Pick, SearchRequest } from '../../src/core/types.ts';

export class RecordingHandler implements ConversationHandler {
  readonly requests: SearchRequest[] = [];
  /** When set, `handle` throws it (after recording the request). */
  failWith: Error | undefined;
  /** Artificial latency, to show acks don't wait for the search. */
  delayMs = 0;
  /** Latency for one request in particular (a slow first refinement, a quick second). */
  delayFor: ((request: SearchRequest) => number) | undefined;
  private gate: Promise<void> | undefined;

  /**
   * Holds every search until the returned function is called: an ack that arrives while searches
   * are held cannot have waited for the search (deterministic, unlike a long artificial delay).
   */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise((r) => {
      release = r;
    });
    return () => {
      this.gate = undefined;
      release();
    };
  }

  async handle(request: SearchRequest): Promise<BotReply> {
    this.requests.push(request);
    if (this.gate) await this.gate;
    const delay = this.delayFor?.(request) ?? this.delayMs;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    if (this.failWith) throw this.failWith;
    const query = request.text ?? (request.image ? 'photos like yours' : 'more of the same');
    const picks = [1, 2, 3, 4].map(
      (n): Pick => ({ n, id: `photo-${n}`, score: 0.3, entry: { id: `photo-${n}` } }),
    );
    if (request.action?.type === 'open') {
      const n = request.action.n;
      return {
        kind: 'open',
        text: `Photo ${n}`,
        pick: picks[n - 1] ?? picks[0]!,
        image: { bytes: await tile(n, 256), mime: 'image/jpeg', fileName: `photo-${n}.jpg` },
      };
    }
    const grid = await gridJpeg(query);
    return {
      kind: 'results',
      text: `Here is what I found for “${query}”.`,
      reply: {
        query,
        picks,
        grid,
        mime: 'image/jpeg',
        fileName: 'imagesearch-results.jpg',
        caption: query,
        rankedBy: 'clip',
        timingsMs: { total: 1 },
      },
      actions: resultActions(4),
    };
  }
}

const COLOURS = [
  { r: 200, g: 60, b: 60 },
  { r: 60, g: 160, b: 60 },
  { r: 60, g: 90, b: 200 },
  { r: 220, g: 180, b: 40 },
];

async function tile(n: number, size: number): Promise<Buffer> {
  const background = COLOURS[(n - 1) % COLOURS.length]!;
  return sharp({ create: { width: size, height: size, channels: 3, background } })
    .jpeg()
    .toBuffer();
}

/** A 512×512 JPEG of four tiles (the real grid renderer is tested elsewhere). */
export async function gridJpeg(seed: string, size = 512): Promise<Buffer> {
  const half = size / 2;
  const tiles = await Promise.all([1, 2, 3, 4].map((n) => tile(n, half)));
  const shade = [...seed].reduce((a, c) => (a + c.charCodeAt(0)) % 255, 0);
  return sharp({
    create: { width: size, height: size, channels: 3, background: { r: shade, g: shade, b: shade } },
  })
    .composite(tiles.map((input, i) => ({ input, left: (i % 2) * half, top: Math.floor(i / 2) * half })))
    .jpeg({ quality: 85 })
    .toBuffer();
}
