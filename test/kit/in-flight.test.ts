/**
 * The in-flight tracker every adapter drains on shutdown (adapters/kit/in-flight.ts), on a fake
 * clock: drain waits for running work up to its timeout, then aborts the signal and gives the work
 * one last second. The real process's shutdown is test/production/shutdown.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InFlight } from '../../adapters/kit/in-flight.ts';

/** A promise settled by the test. */
function pending<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Starts `drain` and reports whether it has returned. */
function draining(inflight: InFlight, timeoutMs: number) {
  const state = { done: false };
  const drained = inflight.drain(timeoutMs).then(() => {
    state.done = true;
  });
  return { state, drained };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('InFlight', () => {
  it('tracks work until it settles, either way, and hands the same promise back', async () => {
    const inflight = new InFlight();
    const ok = pending<string>();
    const failing = pending();
    expect(inflight.track(ok.promise)).toBe(ok.promise);
    inflight.track(failing.promise).catch(() => undefined);
    expect(inflight.size).toBe(2);
    ok.resolve('answered');
    failing.reject(new Error('search failed'));
    await vi.advanceTimersByTimeAsync(0);
    expect(inflight.size).toBe(0);
  });

  it('a drain stops taking work and returns once running work finishes, without aborting it', async () => {
    const inflight = new InFlight();
    expect(inflight.accepting).toBe(true);
    const work = pending();
    inflight.track(work.promise);
    const { state, drained } = draining(inflight, 10_000);
    expect(inflight.accepting).toBe(false);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(state.done).toBe(false);
    work.resolve();
    await drained;
    expect(inflight.signal.aborted).toBe(false);
    // The drain's timeout does not outlive it.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('past the timeout it aborts the signal and gives the work one more second, then returns regardless', async () => {
    const inflight = new InFlight();
    inflight.track(pending().promise); // never settles
    const { state } = draining(inflight, 5_000);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(inflight.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(inflight.signal.aborted).toBe(true);
    expect((inflight.signal.reason as Error).message).toBe('adapter stopping');
    await vi.advanceTimersByTimeAsync(999);
    expect(state.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the last grace period is never longer than the drain timeout itself', async () => {
    const inflight = new InFlight();
    inflight.track(pending().promise);
    const { state } = draining(inflight, 200);
    await vi.advanceTimersByTimeAsync(200);
    expect(inflight.signal.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(199);
    expect(state.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.done).toBe(true);
  });

  it('work that stops on the abort ends the drain at once', async () => {
    const inflight = new InFlight();
    const work = pending();
    inflight.track(work.promise).catch(() => undefined);
    inflight.signal.addEventListener('abort', () => work.reject(inflight.signal.reason));
    const { state, drained } = draining(inflight, 5_000);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(state.done).toBe(true);
    await drained;
  });

  it('takes work again after resume (an adapter started anew)', async () => {
    const inflight = new InFlight();
    await inflight.drain(1_000);
    expect(inflight.accepting).toBe(false);
    inflight.resume();
    expect(inflight.accepting).toBe(true);
  });
});
