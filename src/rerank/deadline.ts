/**
 * A hard deadline around a unit of async work.
 *
 * Why both an AbortController and a Promise.race: aborting tells well-behaved work (fetch, the
 * image store) to stop and free its sockets, but a library that ignores the signal, or a socket
 * stuck in a half-open state, could still keep its promise pending. The race guarantees the
 * caller gets an answer at the deadline regardless, a few milliseconds late at most.
 */

import { deadline, whenAborted } from '../util/deadline.ts';

/** How a deadline-bound run ended when the work itself did not finish. */
export type DeadlineFailure = 'timeout' | 'aborted';

export type DeadlineOutcome<T> = { ok: true; value: T } | { ok: false; reason: DeadlineFailure };

/**
 * Runs `work` with a signal that aborts at `timeoutMs` or when `callerSignal` aborts, whichever
 * comes first, and resolves by then. Never rejects when `work` never rejects; a rejection of
 * `work` before the deadline is passed through.
 */
export async function withDeadline<T>(
  timeoutMs: number,
  callerSignal: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<DeadlineOutcome<T>> {
  if (callerSignal?.aborted) return { ok: false, reason: 'aborted' };
  const d = deadline(timeoutMs, callerSignal, 'rerank');
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
