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

/** Rejects with the signal's reason once it aborts: race it against work that may ignore signals. */
export function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
