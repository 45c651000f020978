import cliProgress from 'cli-progress';
import type { Logger } from '../logger.ts';

/** Progress of a long job: a bar on a terminal, a log line every 10 % otherwise. */
export interface Progress {
  start(total: number, label: string): void;
  increment(by?: number): void;
  stop(): void;
}

export function createProgress(opts: { enabled: boolean; logger: Logger }): Progress {
  const tty = process.stderr.isTTY === true;
  if (opts.enabled && tty) {
    const bar = new cliProgress.SingleBar(
      { format: ' {label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left', hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    return {
      start: (total, label) => bar.start(total, 0, { label }),
      increment: (by = 1) => bar.increment(by),
      stop: () => bar.stop(),
    };
  }
  let total = 0;
  let done = 0;
  let nextReport = 0;
  let label = '';
  return {
    start(t, l) {
      total = t;
      label = l;
      done = 0;
      nextReport = 0.1;
    },
    increment(by = 1) {
      done += by;
      if (opts.enabled && total > 0 && done / total >= nextReport) {
        opts.logger.info({ done, total, percent: Math.floor((100 * done) / total) }, label);
        nextReport = Math.floor((done / total) * 10 + 1) / 10;
      }
    },
    stop() {},
  };
}
