/**
 * How the state store lives through a backend outage (./state-store.ts): every operation is
 * time-boxed and answered by a fallback instead of throwing; after a failure on a backend that can
 * be probed (Redis) no operation is sent at all, since a stalled socket would only queue them, and a
 * PING on a timer decides when it is back. `available` (readiness) follows that probe, not traffic.
 * One warning is logged per outage, one info on recovery.
 */
import { timebox } from '../util/deadline.ts';
import type { Logger } from '../util/logger.ts';
import type { Backend } from './backend.ts';

export class OutageGuard {
  readonly #backend: Backend;
  readonly #log: Logger;
  readonly #probeEveryMs: number;
  #available = true;
  #probeTimer: NodeJS.Timeout | undefined;
  #probing = false;
  #closed = false;

  constructor(backend: Backend, log: Logger, probeEveryMs: number) {
    this.#backend = backend;
    this.#log = log;
    this.#probeEveryMs = probeEveryMs;
    backend.onConnection?.((up) =>
      up ? this.succeeded() : this.failed('connection', '-', new Error('connection lost')),
    );
  }

  /** False from the first failure until a probe, an operation or a connection event succeeds. */
  get available(): boolean {
    return this.#available;
  }

  /** Whether to send an operation now: never while a probed backend is down (the probe decides). */
  sendable(): boolean {
    return this.#backend.connected() && (this.#available || !this.#backend.probe);
  }

  /** Runs `work` against the backend, time-boxed; `fallback` answers while it is down or failing. */
  async run<T>(op: string, key: string, work: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T> {
    if (!this.sendable()) {
      this.failed(op, key, new Error('not connected'));
      return fallback();
    }
    try {
      const result = await timebox(work(), this.#backend.opTimeoutMs, `state ${op}`);
      this.succeeded();
      return result;
    } catch (err) {
      this.failed(op, key, err);
      return fallback();
    }
  }

  failed(op: string, key: string, err: unknown): void {
    if (this.#available) {
      this.#available = false;
      this.#log.warn(
        { err, op, key, backend: this.#backend.kind },
        'state store unavailable; answering without memory',
      );
    } else {
      this.#log.debug({ err, op, key }, 'state operation skipped while the store is down');
    }
    this.#startProbing();
  }

  succeeded(): void {
    clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
    if (!this.#available) {
      this.#available = true;
      this.#log.info({ backend: this.#backend.kind }, 'state store recovered');
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#probeTimer);
  }

  #startProbing(): void {
    if (!this.#backend.probe || this.#probeTimer || this.#closed) return;
    this.#probeTimer = setInterval(() => void this.#probeOnce(), this.#probeEveryMs);
    this.#probeTimer.unref();
  }

  async #probeOnce(): Promise<void> {
    const backend = this.#backend;
    if (this.#probing || !backend.probe || !backend.connected()) return;
    this.#probing = true;
    try {
      await timebox(backend.probe(), backend.opTimeoutMs, 'state probe');
      this.succeeded();
    } catch (err) {
      this.#log.debug({ err }, 'state probe failed');
    } finally {
      this.#probing = false;
    }
  }
}
