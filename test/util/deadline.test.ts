import { describe, expect, it } from 'vitest';
import { allowFanOut, deadline, whenAborted } from '../../src/util/deadline.ts';

describe('deadline', () => {
  it('aborts after the time with a TimeoutError', async () => {
    const d = deadline(30, undefined, 'tile');
    const t = performance.now();
    await expect(whenAborted(d.signal)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(performance.now() - t).toBeGreaterThanOrEqual(25);
    d.dispose();
  });

  it('follows the parent signal, and dispose stops the timer', async () => {
    const parent = new AbortController();
    const d = deadline(10_000, parent.signal);
    parent.abort(new Error('user left'));
    await expect(whenAborted(d.signal)).rejects.toThrow('user left');
    const quiet = deadline(20);
    quiet.dispose();
    await new Promise((r) => setTimeout(r, 40));
    expect(quiet.signal.aborted).toBe(false);
  });

  it('starts aborted when the parent already is', () => {
    const parent = AbortSignal.abort(new Error('gone'));
    expect(deadline(1000, parent).signal.aborted).toBe(true);
  });

  it('a fan-out of 20 deadlines on one request signal warns of a leak only without allowFanOut', async () => {
    const leakWarnings = async (fanOut: boolean) => {
      const seen: string[] = [];
      const onWarning = (w: Error) => seen.push(w.name);
      process.on('warning', onWarning);
      try {
        const request = new AbortController();
        if (fanOut) allowFanOut(request.signal, 20);
        const ds = Array.from({ length: 20 }, () => deadline(10_000, request.signal, 'tile'));
        await new Promise((r) => setTimeout(r, 20));
        for (const d of ds) d.dispose();
      } finally {
        process.off('warning', onWarning);
      }
      return seen.filter((n) => n === 'MaxListenersExceededWarning').length;
    };
    expect(await leakWarnings(false)).toBe(1);
    expect(await leakWarnings(true)).toBe(0);
  });
});
