import { ImageSearchError } from '../core/errors.ts';

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
 * Like p-limit, plus what p-limit lacks for a chat bot: a bounded queue and a bounded wait, so
 * overload turns into a fast friendly answer instead of an ever-growing backlog of stale requests.
 */
export function createConcurrencyLimiter(opts: ConcurrencyOptions): ConcurrencyLimiter {
  const maxQueue = opts.maxQueue ?? opts.max * 4;
  const maxWaitMs = opts.maxWaitMs ?? 5000;
  let active = 0;
  const waiting: Array<{ start: () => void; timer: NodeJS.Timeout }> = [];

  // A finishing job hands its slot straight to the next waiter, so no newcomer can slip in between.
  const release = () => {
    const job = waiting.shift();
    if (!job) {
      active--;
      return;
    }
    clearTimeout(job.timer);
    job.start();
  };

  return {
    get active() {
      return active;
    },
    get queued() {
      return waiting.length;
    },
    async run<T>(fn: () => Promise<T>): Promise<T> {
      if (active < opts.max) {
        active++;
      } else {
        if (waiting.length >= maxQueue) throw busy(`queue full (${maxQueue})`);
        await new Promise<void>((resolve, reject) => {
          const entry = {
            start: resolve,
            timer: setTimeout(() => {
              const i = waiting.indexOf(entry);
              if (i >= 0) waiting.splice(i, 1);
              reject(busy(`waited ${maxWaitMs} ms`));
            }, maxWaitMs),
          };
          waiting.push(entry);
        });
      }
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}
