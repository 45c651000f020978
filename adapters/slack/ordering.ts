/**
 * Order and pace of background work. Acks are answered on the same event loop as the work that
 * follows them, so the number of replies being built at once is bounded: a burst of commands then
 * queues its searches instead of starving the acks of later commands (Slack's 3-second limit).
 */

/**
 * Runs tasks one after another per key (a thread), in arrival order, so two quick refinements in
 * the same thread are answered in the order they were typed. Different keys run concurrently.
 */
export class KeyedSerialQueue {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  get pending(): number {
    return this.#tails.size;
  }
}

/** A FIFO counting semaphore: at most `limit` holders at once, waiters served in arrival order. */
export class Semaphore {
  readonly #limit: number;
  #active = 0;
  readonly #waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    else this.#active += 1;
    try {
      return await task();
    } finally {
      const next = this.#waiters.shift();
      // Hand the permit straight to the next waiter so a newcomer cannot overtake it.
      if (next) next();
      else this.#active -= 1;
    }
  }

  get waiting(): number {
    return this.#waiters.length;
  }
}
