/**
 * Deadlines: the one place that bounds how long we wait for anything (image fetches, Gemini,
 * grid tiles, query rewrites, state operations, doctor checks).
 *
 * Why both an AbortController and a Promise.race: aborting tells well-behaved work (fetch, the
 * image store) to stop and free its sockets, but a library that ignores the signal (keyv,
 * node-redis), or a socket stuck half-open, could still keep its promise pending. The race
 * guarantees the caller an answer at the deadline regardless, a few milliseconds late at most.
 */
import { getMaxListeners, setMaxListeners } from 'node:events';

/**
 * A signal that aborts after `ms` or when `parent` aborts.
 *
 * Why not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: on Node 20 that composite can be
 * collected before the timeout fires, so a hanging host would hold a request forever (seen in the
 * setup tests). A plain timer keeps a strong reference until `dispose()`.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Clears the timer and the listener on the parent. Call it in `finally`. */
  dispose(): void;
}

export function deadline(ms: number, parent?: AbortSignal, label = 'deadline'): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`${label} of ${ms} ms passed`, 'TimeoutError')),
    ms,
  );
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * Lets `n` more concurrent waiters listen on `signal` without Node's "possible EventTarget memory
 * leak" warning (its limit is 10): a search fans one request's signal out to a tile fetch per
 * candidate, each with its own deadline. The listeners are removed as each deadline is disposed.
 */
export function allowFanOut(signal: AbortSignal | undefined, n: number): void {
  if (signal) setMaxListeners(Math.max(getMaxListeners(signal), 10) + n, signal);
}

/** Rejects with the signal's reason once it aborts: race it against work that may ignore signals. */
export function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** How a deadline-bound run ended when the work itself did not finish. */
export type DeadlineFailure = 'timeout' | 'aborted';

export type DeadlineOutcome<T> = { ok: true; value: T } | { ok: false; reason: DeadlineFailure };

/**
 * Runs `work` with a signal that aborts at `timeoutMs` or when `callerSignal` aborts, whichever
 * comes first, and resolves by then. Never rejects when `work` never rejects; a rejection of
 * `work` before the deadline is passed through. A caller already aborted gets `aborted` at once.
 */
export async function withDeadline<T>(
  timeoutMs: number,
  callerSignal: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
  label = 'deadline',
): Promise<DeadlineOutcome<T>> {
  if (callerSignal?.aborted) return { ok: false, reason: 'aborted' };
  const d = deadline(timeoutMs, callerSignal, label);
  try {
    const running = work(d.signal);
    // The losing branch may reject later (e.g. fetch's AbortError); nobody awaits it then.
    running.catch(() => undefined);
    return { ok: true, value: await Promise.race([running, whenAborted(d.signal)]) };
  } catch (e) {
    if (d.signal.aborted) return { ok: false, reason: callerSignal?.aborted ? 'aborted' : 'timeout' };
    throw e;
  } finally {
    d.dispose();
  }
}

/** Thrown by {@link timebox} when the work did not settle in time. */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * {@link withDeadline} for work that takes no signal (keyv, node-redis): resolves with its value or
 * rejects with a {@link TimeoutError}. The work is not cancelled, but its late rejection is
 * swallowed so it never surfaces as an unhandled rejection.
 */
export async function timebox<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  const outcome = await withDeadline(ms, undefined, () => work, what);
  if (!outcome.ok) throw new TimeoutError(what, ms);
  return outcome.value;
}
