/**
 * `--busy N`: N worker threads that spin on the CPU beside the bot for the whole run, as other
 * programs on a shared machine do. They run at the bot's priority and never yield, so every figure
 * the bench reports under `--busy` is what the bot gets when it has to share its cores.
 */
import { Worker } from 'node:worker_threads';

/** Each spinner counts loop turns in a shared slot, so the bench can say how much CPU they got. */
const SPIN = `
const { workerData } = require('node:worker_threads');
const turns = new BigInt64Array(workerData.counter);
for (;;) {
  let x = 0;
  for (let i = 0; i < 1e6; i++) x = (x * 31 + i) | 0;
  Atomics.add(turns, workerData.slot, 1n);
  if (Atomics.load(turns, workerData.stop) === 1n) break;
}
`;

export interface Busy {
  threads: number;
  /** Million-iteration loop turns each spinner has made so far. */
  turns(): number[];
  stop(): Promise<void>;
}

export function startBusy(threads: number): Busy {
  const counter = new SharedArrayBuffer((threads + 1) * 8);
  const view = new BigInt64Array(counter);
  const workers = Array.from(
    { length: threads },
    (_, slot) => new Worker(SPIN, { eval: true, workerData: { counter, slot, stop: threads } }),
  );
  for (const w of workers) w.unref();
  return {
    threads,
    turns: () => Array.from({ length: threads }, (_, i) => Number(view[i])),
    async stop() {
      Atomics.store(view, threads, 1n);
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
