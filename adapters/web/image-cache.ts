import { randomUUID } from 'node:crypto';

/** One stored image. */
export interface CachedImage {
  bytes: Buffer;
  mime: string;
}

/**
 * Recent grids and opened photos, served to the browser as real image URLs (`/api/image/<id>`).
 * LRU bounded by count and bytes, in memory: a chat page only needs the images of the last minutes,
 * and ids are random UUIDs, so one session cannot guess another's images.
 */
export class ImageCache {
  readonly #entries = new Map<string, CachedImage>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxEntries = 200, maxBytes = 64 * 1024 * 1024) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /** Stores an image and returns its id. */
  put(image: CachedImage): string {
    const id = randomUUID();
    this.#entries.set(id, image);
    this.#bytes += image.bytes.length;
    while (
      this.#entries.size > this.#maxEntries ||
      (this.#bytes > this.#maxBytes && this.#entries.size > 1)
    ) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#bytes -= this.#entries.get(oldest)?.bytes.length ?? 0;
      this.#entries.delete(oldest);
    }
    return id;
  }

  get(id: string): CachedImage | undefined {
    const hit = this.#entries.get(id);
    if (hit) {
      // Refresh recency: a grid still being looked at should outlive older ones.
      this.#entries.delete(id);
      this.#entries.set(id, hit);
    }
    return hit;
  }

  get size(): number {
    return this.#entries.size;
  }
}
