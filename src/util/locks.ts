/**
 * Locks and limits on async-mutex, shared by the core and every adapter: a keyed mutex (one queue
 * per conversation or thread, in arrival order) and a concurrency limiter that turns overload
 * into a fast "busy" instead of an ever-growing backlog.
 */
import { E_TIMEOUT, Mutex, Semaphore, withTimeout } from 'async-mutex';
import { ImageSearchError } from '../core/errors.ts';

/**
 * One async-mutex per key, created on first use and dropped when nobody holds or waits for it,
 * so a long-running bot does not accumulate a mutex for every conversation it ever saw. Tasks of
 * one key run one at a time in the order `run` was called; other keys run alongside.
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

/** Caps how many searches run at once; extra ones queue briefly, then get a "busy" answer. */
export interface ConcurrencyLimiter {
  run<T>(fn: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly queued: number;
}

export interface ConcurrencyOptions {
  /** MAX_CONCURRENT_SEARCHES. */
  max: number;
  /** Waiting jobs beyond this are refused at once. Default: 4 × max. */
  maxQueue?: number;
  /** A queued job waiting longer than this is refused. Default 5000 ms. */
  maxWaitMs?: number;
}

/** Thrown (as an ImageSearchError with code 'busy') when the limiter refuses a job. */
function busy(detail: string): ImageSearchError {
  return new ImageSearchError(
    'busy',
    "I'm busy with other searches right now. Please try again in a moment.",
    {
      detail,
    },
  );
}

/**
 * An async-mutex Semaphore (first come, first served: a finishing job hands its slot to the next
 * waiter, so no newcomer slips in between) with what a chat bot needs on top: a bounded queue and a
 * bounded wait.
 */
export function createConcurrencyLimiter(opts: ConcurrencyOptions): ConcurrencyLimiter {
  const maxQueue = opts.maxQueue ?? opts.max * 4;
  const maxWaitMs = opts.maxWaitMs ?? 5000;
  const slots = new Semaphore(opts.max);
  const timed = withTimeout(slots, maxWaitMs);
  let waiting = 0;

  return {
    get active() {
      return opts.max - Math.max(0, slots.getValue());
    },
    get queued() {
      return waiting;
    },
    async run<T>(fn: () => Promise<T>): Promise<T> {
      const mustWait = slots.isLocked();
      if (mustWait && waiting >= maxQueue) throw busy(`queue full (${maxQueue})`);
      if (mustWait) waiting++;
      let release: () => void;
      try {
        [, release] = await timed.acquire();
      } catch (e) {
        if (e === E_TIMEOUT) throw busy(`waited ${maxWaitMs} ms`);
        throw e;
      } finally {
        if (mustWait) waiting--;
      }
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}
