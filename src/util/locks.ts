import { Mutex } from 'async-mutex';

/**
 * One async-mutex per key, created on first use and dropped when nobody holds or waits for it,
 * so a long-running bot does not accumulate a mutex for every conversation it ever saw.
 */
export class KeyedMutex {
  readonly #entries = new Map<string, { mutex: Mutex; users: number }>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { mutex: new Mutex(), users: 0 };
      this.#entries.set(key, entry);
    }
    entry.users++;
    try {
      return await entry.mutex.runExclusive(fn);
    } finally {
      entry.users--;
      if (entry.users === 0) this.#entries.delete(key);
    }
  }

  /** Keys currently locked or waited on (for tests and diagnostics). */
  get size(): number {
    return this.#entries.size;
  }
}
