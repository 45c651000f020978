import { describe, expect, it } from 'vitest';
import { deadline, whenAborted } from '../../src/util/deadline.ts';

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
});
