/**
 * Progress for long jobs (downloads, thumbnails, index builds): a cli-progress bar on a terminal, a few percentage log lines
 * otherwise (CI logs, `docker logs`), and nothing when progress is off.
 */
import cliProgress from 'cli-progress';
import type { Logger } from './logger.ts';

/** A started progress display. `total` may be unknown (0) until the first response arrives. */
export interface Progress {
  setTotal(total: number): void;
  /** Sets the absolute amount done (bytes, items). */
  update(done: number): void;
  increment(by?: number): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Unit shown in log lines: bytes are printed as MB. */
  unit: 'bytes' | 'items';
  logger: Logger;
  /** false: no output at all. Default true. */
  enabled?: boolean;
  /** Force the bar (true) or log lines (false). Default: bar when stderr is a terminal. */
  tty?: boolean;
  /** Starting value (a resumed download). */
  start?: number;
}

const MB = 1024 * 1024;

function fmt(n: number, unit: ProgressOptions['unit']): string {
  return unit === 'bytes' ? `${(n / MB).toFixed(1)} MB` : String(n);
}

export function startProgress(opts: ProgressOptions): Progress {
  let total = opts.total;
  let done = opts.start ?? 0;
  if (opts.enabled === false) {
    return {
      setTotal: () => {},
      update: () => {},
      increment: () => {},
      stop: () => {},
    };
  }
  if (opts.tty ?? process.stderr.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} [{bar}] {percentage}% | {shown} | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    const payload = () => ({
      shown: total > 0 ? `${fmt(done, opts.unit)} / ${fmt(total, opts.unit)}` : fmt(done, opts.unit),
    });
    bar.start(Math.max(total, 1), done, payload());
    return {
      setTotal: (t) => {
        total = t;
        bar.setTotal(Math.max(t, 1));
      },
      update: (d) => {
        done = d;
        bar.update(d, payload());
      },
      increment: (by = 1) => {
        done += by;
        bar.update(done, payload());
      },
      stop: () => bar.stop(),
    };
  }
  // Not a terminal: one log line per 10 % step, so logs stay readable.
  let lastStep = total > 0 ? Math.floor((done / total) * 10) : 0;
  const report = (force = false) => {
    if (total <= 0) return;
    const step = Math.floor((done / total) * 10);
    if (step === lastStep && !force) return;
    lastStep = step;
    opts.logger.info(
      { task: opts.label, done, total },
      `${opts.label}: ${Math.min(100, Math.floor((done / total) * 100))}% (${fmt(done, opts.unit)} of ${fmt(total, opts.unit)})`,
    );
  };
  return {
    setTotal: (t) => {
      total = t;
      report();
    },
    update: (d) => {
      done = d;
      report();
    },
    increment: (by = 1) => {
      done += by;
      report();
    },
    stop: () => {
      if (lastStep < 10) report(true);
    },
  };
}
