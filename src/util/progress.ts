/**
 * Progress for long jobs (downloads, thumbnails, index builds, imports): a cli-progress bar on a terminal, a few
 * percentage log lines otherwise (CI logs, `docker logs`), and nothing when progress is off. Both show the rate
 * and the time left.
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
  /** What the items are, for the rate (`12.3 images/s`); default: no name (`12.3/s`). */
  itemName?: string;
  logger: Logger;
  /** false: no output at all. Default true. */
  enabled?: boolean;
  /** Force the bar (true) or log lines (false). Default: bar when stderr is a terminal. */
  tty?: boolean;
  /** Starting value (a resumed download). */
  start?: number;
  /** Where the bar is drawn; default process.stderr. */
  stream?: NodeJS.WritableStream;
  /** Clock in ms (tests); default performance.now. */
  now?: () => number;
}

const MB = 1024 * 1024;

function fmt(n: number, unit: ProgressOptions['unit']): string {
  return unit === 'bytes' ? `${(n / MB).toFixed(1)} MB` : String(n);
}

function fmtRate(perSec: number, unit: ProgressOptions['unit'], itemName?: string): string {
  if (unit === 'bytes') return `${(perSec / MB).toFixed(1)} MB/s`;
  return `${perSec >= 100 ? Math.round(perSec) : perSec.toFixed(1)}${itemName ? ` ${itemName}` : ''}/s`;
}

function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function clockOf(opts: ProgressOptions): () => number {
  return opts.now ?? (() => performance.now());
}

/** Rate since the display started (a resumed job counts only this run's work) and time left. */
function speed(opts: ProgressOptions, startedAt: number, startDone: number, done: number, total: number) {
  const elapsed = (clockOf(opts)() - startedAt) / 1000;
  const perSec = elapsed > 0 ? (done - startDone) / elapsed : 0;
  const eta = perSec > 0 && total > 0 ? Math.max(0, total - done) / perSec : Number.POSITIVE_INFINITY;
  return { rate: fmtRate(perSec, opts.unit, opts.itemName), eta: fmtDuration(eta) };
}

export function startProgress(opts: ProgressOptions): Progress {
  let total = opts.total;
  let done = opts.start ?? 0;
  const startDone = done;
  const startedAt = clockOf(opts)();
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
        format: `${opts.label} [{bar}] {percentage}% | {shown} | {rate} | ETA {left}`,
        stream: opts.stream ?? process.stderr,
        // A bar forced on (tty: true) is drawn even where the stream is no terminal.
        noTTYOutput: opts.tty === true,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    // Rate and time left from this run's average, as the log lines give them (cli-progress's own
    // ETA smooths over the last few updates and jumps with each batch).
    // ({eta} is cli-progress's own token, hence `left`.)
    const payload = () => {
      const { rate, eta } = speed(opts, startedAt, startDone, done, total);
      const shown = total > 0 ? `${fmt(done, opts.unit)} / ${fmt(total, opts.unit)}` : fmt(done, opts.unit);
      return { shown, rate, left: eta };
    };
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
    const { rate, eta } = speed(opts, startedAt, startDone, done, total);
    opts.logger.info(
      { task: opts.label, done, total },
      `${opts.label}: ${Math.min(100, Math.floor((done / total) * 100))}% (${fmt(done, opts.unit)} of ${fmt(total, opts.unit)}, ${rate}, ETA ${eta})`,
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
