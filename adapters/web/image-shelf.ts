/**
 * Grids and opened photos the page loads by URL (`/api/image/<uuid>`). Each is kept in this process
 * (an LRU bounded by count and bytes: a chat page only needs the images of the last minutes) and,
 * when replicas share a store (Redis), in the store with a TTL too: the browser's GET for a grid may
 * reach another replica than the POST that drew it. Ids are random UUIDs, so one session cannot
 * guess another's images.
 */
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { StateStore } from '../../src/core/types.ts';
import type { ServedImage } from './reply-json.ts';

export interface ImageShelfOptions {
  /** The shared store; images go there only when `share` is set. */
  state?: StateStore | undefined;
  /** True when other replicas serve the same pages (the store is Redis). */
  share?: boolean;
  /** How long an image stays loadable from the store. Default 10 minutes (browsers cache it after). */
  ttlMs?: number;
  /** Images kept in process. Default 200. */
  maxEntries?: number;
  /** Their total size at most. Default 64 MiB. */
  maxBytes?: number;
}

const imageKey = (id: string) => `web:image:${id}`;

function isServedImage(value: unknown): value is ServedImage {
  if (typeof value !== 'object' || value === null) return false;
  const { bytes, mime } = value as { bytes?: unknown; mime?: unknown };
  return Buffer.isBuffer(bytes) && typeof mime === 'string' && mime.startsWith('image/');
}

export class ImageShelf {
  readonly #local: LRUCache<string, ServedImage>;
  readonly #shared: StateStore | undefined;
  readonly #ttlMs: number;

  constructor(opts: ImageShelfOptions = {}) {
    this.#local = new LRUCache<string, ServedImage>({
      max: opts.maxEntries ?? 200,
      maxSize: opts.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (image) => Math.max(1, image.bytes.length),
    });
    this.#shared = opts.share ? opts.state : undefined;
    this.#ttlMs = opts.ttlMs ?? 10 * 60_000;
  }

  /** Keeps `image` and answers its id once every replica can serve it (or the store failed: then this one can). */
  async keep(image: ServedImage): Promise<string> {
    const id = randomUUID();
    this.#local.set(id, image);
    await this.#shared?.set(imageKey(id), image, this.#ttlMs).catch(() => undefined);
    return id;
  }

  async get(id: string): Promise<ServedImage | undefined> {
    const local = this.#local.get(id);
    if (local) return local;
    const stored = await this.#shared?.get(imageKey(id)).catch(() => undefined);
    if (!isServedImage(stored)) return undefined;
    this.#local.set(id, stored);
    return stored;
  }
}
