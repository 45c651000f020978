import path from 'node:path';
import { ImageSearchError } from '../core/errors.ts';
import type { Dedupe, RateBuckets, StateStore } from '../core/types.ts';
import { KeyedMutex } from '../util/locks.ts';
import type { Logger } from '../util/logger.ts';
import { type Backend, NAMESPACE } from './backend.ts';
import { MemoryDedupe } from './dedupe.ts';
import { openMemoryBackend } from './memory-backend.ts';
import { OutageGuard } from './outage-guard.ts';
import { MemoryBuckets } from './rate-limit.ts';
import { openRedisBackend } from './redis-backend.ts';
import type { RedisLock } from './redis-lock.ts';
import { openSqliteBackend } from './sqlite-backend.ts';

/** Options of {@link createStateStore}. */
export interface StateStoreOptions {
  /** STATE_URL: empty = SQLite file `<dataDir>/state.sqlite`; `sqlite://FILE`; `redis://…`/`rediss://…`; `memory://` (tests). */
  url?: string | undefined;
  /** IMAGESEARCH_DATA_DIR: home of the default SQLite file. */
  dataDir: string;
  /** Default time to live of an entry (STATE_TTL_DAYS). */
  ttlMs: number;
  logger: Logger;
  /** Time box for one state operation. Default 300 ms for Redis, 1000 ms for SQLite. */
  opTimeoutMs?: number;
  /** Distributed lock lease (Redis only). Default 5000 ms, renewed while held. */
  lockTtlMs?: number;
  /** How long to wait for a lock held by another replica before answering "busy". Default 10 s. */
  lockWaitMs?: number;
  /**
   * After a failed operation on a backend that can be probed (Redis), how often to PING it. No user
   * operation is sent until a PING answers, so a stalled Redis gets no queue of writes and readiness
   * comes back without waiting for traffic. Default 1000 ms.
   */
  probeEveryMs?: number;
}

/** The state store as the composition root sees it: the core port plus health and shutdown. */
export interface ManagedStateStore extends StateStore {
  readonly backend: 'sqlite' | 'redis' | 'memory';
  /**
   * True when other replicas (on other machines) read this store: Redis. Then bytes that a later
   * request may ask any replica for (web grids, idempotent replies) are written to it too; with
   * SQLite or memory they stay in the process.
   */
  readonly replicated: boolean;
  /** False while the backend is unreachable; operations then degrade (no memory) instead of failing. */
  readonly available: boolean;
  /**
   * Idempotency keys in the backend (Redis `SET NX PX`, a SQLite UPSERT), atomic across replicas.
   * Every claim is also kept in process, so a repeat that reaches the same replica is caught even
   * while the backend is down; a claim the backend cannot answer counts as won (answer once here
   * rather than never).
   */
  readonly dedupe: Dedupe;
  /** Rate-limit buckets in the backend; in process (per replica) while it is down. */
  readonly buckets: RateBuckets;
  /** Resolves true once the backend answers, false after `timeoutMs` (start-up check). */
  whenAvailable(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** True unless `store` reports itself unavailable (stores without health reporting count as available). */
export function isStateAvailable(store: StateStore): boolean {
  const available = (store as Partial<ManagedStateStore>).available;
  return available !== false;
}

/**
 * `store` as a store that never throws. The managed store already is one and comes back as it is;
 * any other StateStore is wrapped, so a failing backend costs memory, never an answer.
 */
export function neverThrowing(store: StateStore, logger: Logger): StateStore {
  if ((store as Partial<ManagedStateStore>).available !== undefined) return store;
  return {
    get: <T>(key: string) =>
      store.get<T>(key).catch((err: unknown) => {
        logger.warn({ err, key }, 'state read failed; answering without memory');
        return undefined;
      }),
    set: (key, value, ttlMs) =>
      store.set(key, value, ttlMs).catch((err: unknown) => logger.warn({ err, key }, 'state write failed')),
    delete: (key) =>
      store.delete(key).catch((err: unknown) => logger.warn({ err, key }, 'state delete failed')),
    withLock: (key, fn) => store.withLock(key, fn),
  };
}

/**
 * Creates the conversation state store. Every operation is time-boxed and never throws into the
 * user's path: while the backend is down, `get` answers undefined, `set`/`delete` are dropped,
 * `withLock` runs with the in-process lock only, and claims and rate-limit buckets are this process's.
 * How outages are noticed, probed and ended: ./outage-guard.ts.
 */
export function createStateStore(opts: StateStoreOptions): ManagedStateStore {
  const log = opts.logger.child({ component: 'state' });
  const backend = openBackend(opts, log);
  const mutex = new KeyedMutex();
  const guard = new OutageGuard(backend, log, opts.probeEveryMs ?? 1000);
  backend.keyv.on('error', (err: unknown) => log.debug({ err }, 'keyv error event'));
  const dropped = () => undefined;

  return {
    backend: backend.kind,
    replicated: backend.kind === 'redis',
    dedupe: sharedDedupe(backend, guard),
    buckets: sharedBuckets(backend, guard),
    get available() {
      // A connection event (Redis 'ready') or the probe proves recovery; user traffic is not needed.
      return guard.available && backend.connected();
    },
    async whenAvailable(timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      while (!backend.connected()) {
        if (Date.now() >= deadline) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
      return true;
    },
    get: <T>(key: string) => guard.run<T | undefined>('get', key, () => backend.keyv.get<T>(key), dropped),
    set: async <T>(key: string, value: T, ttlMs?: number) => {
      const write = async () => void (await backend.keyv.set(key, value, ttlMs ?? opts.ttlMs));
      await guard.run('set', key, write, dropped);
    },
    delete: async (key: string) => {
      await guard.run('delete', key, async () => void (await backend.keyv.delete(key)), dropped);
    },
    withLock: <T>(key: string, fn: () => Promise<T>) =>
      mutex.run(key, async () => {
        const lock = backend.lock;
        if (!lock || !guard.sendable()) return fn();
        let lease: Awaited<ReturnType<RedisLock['acquire']>> | undefined;
        try {
          lease = await lock.acquire(`${NAMESPACE}:lock:${key}`);
          guard.succeeded();
        } catch (err) {
          // "busy" means Redis works and another replica holds the thread: tell the user.
          if (err instanceof ImageSearchError) throw err;
          guard.failed('lock', key, err);
        }
        try {
          return await fn();
        } finally {
          await lease?.release();
        }
      }),
    close: async () => {
      guard.close();
      await backend.close();
    },
  };
}

/**
 * Claims in the backend (atomic across replicas) behind one in this process, so a repeat that
 * reaches the same replica is caught even while the backend is down; a claim the backend cannot
 * answer counts as won (answer once here rather than never).
 */
function sharedDedupe(backend: Backend, guard: OutageGuard): Dedupe {
  const local = new MemoryDedupe();
  return {
    async claim(key, ttlMs) {
      if (!(await local.claim(key, ttlMs))) return false;
      const shared = backend.dedupe;
      if (!shared) return true;
      return guard.run(
        'claim',
        key,
        () => shared.claim(key, ttlMs),
        () => true,
      );
    },
  };
}

/** Rate-limit buckets in the backend; this process's own while it is down. */
function sharedBuckets(backend: Backend, guard: OutageGuard): RateBuckets {
  const local = new MemoryBuckets();
  return {
    take(key, perMinute) {
      const shared = backend.buckets;
      if (!shared) return local.take(key, perMinute);
      return guard.run(
        'rate',
        key,
        () => shared.take(key, perMinute),
        () => local.take(key, perMinute),
      );
    },
  };
}

/** The backend STATE_URL names. */
function openBackend(opts: StateStoreOptions, log: Logger): Backend {
  const url = opts.url?.trim() ?? '';
  const backendOpts = { ...opts, logger: log };
  if (url === '' || url.startsWith('sqlite://')) {
    const file = url === '' ? path.join(opts.dataDir, 'state.sqlite') : url.slice('sqlite://'.length);
    return openSqliteBackend(path.resolve(file), backendOpts);
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return openRedisBackend(url, backendOpts);
  if (url === 'memory://') return openMemoryBackend(backendOpts);
  throw new ImageSearchError(
    'config_invalid',
    'STATE_URL must be empty, sqlite://FILE, redis://… or rediss://…',
  );
}
