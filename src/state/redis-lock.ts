import { randomUUID } from 'node:crypto';
import { ImageSearchError } from '../core/errors.ts';
import { timebox } from '../util/deadline.ts';

/** The one node-redis method the lock needs; structural so tests and other clients can supply it. */
export interface RedisCommandSender {
  sendCommand<T = unknown>(args: ReadonlyArray<string>): Promise<T>;
}

/** Tuning of {@link RedisLock}. Defaults in {@link REDIS_LOCK_DEFAULTS}. */
export interface RedisLockOptions {
  /** Lease length; renewed every third of it while the holder runs, so a crashed replica frees it soon. */
  ttlMs: number;
  /** How long to wait for a lock another replica holds before answering "busy". */
  waitMs: number;
  /** Pause between tries while waiting. */
  retryMs: number;
  /** Time box for one Redis command. */
  opTimeoutMs: number;
}

export const REDIS_LOCK_DEFAULTS = {
  ttlMs: 5000,
  waitMs: 10_000,
  retryMs: 40,
  opTimeoutMs: 300,
} as const satisfies RedisLockOptions;

/** A held lock. `release` never throws: a lost release only means the lease runs out by itself. */
export interface LockLease {
  release(): Promise<void>;
}

// Compare-and-delete / compare-and-extend: only the holder's token may touch the key, so a lease that
// expired and was taken by another replica is never released or extended by the old holder.
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const EXTEND_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Short-lived distributed lock (SET NX PX with a random token, released by compare-and-delete).
 * Single-instance Redis semantics (not Redlock): good enough to serialise follow-ups in one thread.
 */
export class RedisLock {
  readonly #client: RedisCommandSender;
  readonly #opts: RedisLockOptions;

  constructor(client: RedisCommandSender, opts: Partial<RedisLockOptions> = {}) {
    this.#client = client;
    this.#opts = { ...REDIS_LOCK_DEFAULTS, ...opts };
  }

  /**
   * Acquires `key`. Throws `ImageSearchError('busy')` when another holder keeps it past `waitMs`;
   * rejects with the Redis error when Redis itself fails (the caller decides how to degrade).
   */
  async acquire(key: string): Promise<LockLease> {
    const { ttlMs, waitMs, retryMs, opTimeoutMs } = this.#opts;
    const token = randomUUID();
    const deadline = Date.now() + waitMs;
    for (;;) {
      let ok: string | null;
      try {
        ok = await timebox(
          this.#client.sendCommand<string | null>(['SET', key, token, 'NX', 'PX', String(ttlMs)]),
          opTimeoutMs,
          'redis lock',
        );
      } catch (err) {
        // The SET may still reach Redis later (a stalled link delivers it when it heals) and leave a
        // lease nobody holds. The release is sent behind it on the same connection, so Redis runs it
        // right after the SET: the stray lease is gone at once instead of blocking the thread for ttlMs.
        void this.#release(key, token);
        throw err;
      }
      if (ok === 'OK') return this.#lease(key, token);
      if (Date.now() >= deadline) {
        throw new ImageSearchError(
          'busy',
          'That conversation is busy right now. Please try again in a moment.',
          {
            detail: `lock ${key} held past ${waitMs} ms`,
          },
        );
      }
      await sleep(retryMs + Math.random() * retryMs);
    }
  }

  #lease(key: string, token: string): LockLease {
    const { ttlMs, opTimeoutMs } = this.#opts;
    const renew = setInterval(
      () => {
        timebox(
          this.#client.sendCommand(['EVAL', EXTEND_SCRIPT, '1', key, token, String(ttlMs)]),
          opTimeoutMs,
          'redis lock extend',
        ).catch(() => undefined);
      },
      Math.max(50, Math.floor(ttlMs / 3)),
    );
    renew.unref();
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        await this.#release(key, token);
      },
    };
  }

  /** Compare-and-delete; never throws (a lost release only means the lease runs out by itself). */
  #release(key: string, token: string): Promise<void> {
    return timebox(
      this.#client.sendCommand(['EVAL', RELEASE_SCRIPT, '1', key, token]),
      this.#opts.opTimeoutMs,
      'redis unlock',
    ).then(
      () => undefined,
      () => undefined,
    );
  }
}
