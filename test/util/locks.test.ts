import { Semaphore } from 'async-mutex';
import { describe, expect, it } from 'vitest';
import { KeyedMutex } from '../../src/util/locks.ts';

describe('ordering (what the Slack flow relies on)', () => {
  it('runs tasks of one key in order and other keys alongside', async () => {
    const q = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string, ms: number) => () =>
      new Promise<void>((r) =>
        setTimeout(() => {
          log.push(name);
          r();
        }, ms),
      );
    await Promise.all([
      q.run('t1', task('t1-a', 30)),
      q.run('t1', task('t1-b', 1)),
      q.run('t2', task('t2-a', 5)),
    ]);
    expect(log).toEqual(['t2-a', 't1-a', 't1-b']);
  });

  it('bounds concurrency and serves waiters first come, first served', async () => {
    const s = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        s.runExclusive(async () => {
          active += 1;
          peak = Math.max(peak, active);
          order.push(i);
          await new Promise((r) => setTimeout(r, 5));
          active -= 1;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });
});
