/**
 * Work an adapter has accepted and not finished: one tracker for every platform, so a shutdown
 * stops taking work, lets what is running finish, and then gives up in one way everywhere.
 */
export class InFlight {
  readonly #work = new Set<Promise<unknown>>();
  readonly #abort = new AbortController();
  #accepting = true;

  /** False once {@link drain} began: new work should be refused (or answered "restarting"). */
  get accepting(): boolean {
    return this.#accepting;
  }

  /** Aborts when a drain runs out of time: hand it to work that can stop early. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Requests still being answered. */
  get size(): number {
    return this.#work.size;
  }

  /** Takes work again after a drain (an adapter started anew). */
  resume(): void {
    this.#accepting = true;
  }

  /** Tracks `work` until it settles; returns it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#work.add(work);
    const forget = () => this.#work.delete(work);
    work.then(forget, forget);
    return work;
  }

  /**
   * Stops taking work and waits up to `timeoutMs` for what is running. Past that, {@link signal}
   * aborts, the work gets a last second to wind down, and the drain returns regardless.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#accepting = false;
    if (await this.#settled(timeoutMs)) return;
    this.#abort.abort(new Error('adapter stopping'));
    await this.#settled(Math.min(timeoutMs, 1000));
  }

  async #settled(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    const all = Promise.allSettled([...this.#work]).then(() => true);
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
