/**
 * A hard deadline around a unit of async work.
 *
 * Why both an AbortController and a Promise.race: aborting tells well-behaved work (fetch, the
 * image store) to stop and free its sockets, but a library that ignores the signal, or a socket
 * stuck in a half-open state, could still keep its promise pending. The race guarantees the
 * caller gets an answer at the deadline regardless, a few milliseconds late at most.
 */

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
  const controller = new AbortController();
  let failure: DeadlineFailure | undefined;
  let settle: ((outcome: DeadlineOutcome<T>) => void) | undefined;
  const stopped = new Promise<DeadlineOutcome<T>>((resolve) => {
    settle = resolve;
  });
  const stop = (reason: DeadlineFailure): void => {
    if (failure !== undefined) return;
    failure = reason;
    settle?.({ ok: false, reason });
    controller.abort(
      new DOMException(`rerank ${reason}`, reason === 'timeout' ? 'TimeoutError' : 'AbortError'),
    );
  };
  const timer = setTimeout(() => stop('timeout'), timeoutMs);
  const onCallerAbort = (): void => stop('aborted');
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  try {
    const running = work(controller.signal).then((value): DeadlineOutcome<T> => ({ ok: true, value }));
    // The losing branch may reject later (e.g. fetch's AbortError); nobody awaits it then.
    running.catch(() => undefined);
    return await Promise.race([running, stopped]);
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onCallerAbort);
    // Work that outlived its answer (a thumbnail still decoding, a late socket) is told to stop.
    if (!controller.signal.aborted) controller.abort();
  }
}
