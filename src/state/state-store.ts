import { mkdirSync } from 'node:fs';
import path from 'node:path';
import KeyvRedis, { createClient } from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { ImageSearchError } from '../core/errors.ts';
import type { Dedupe, RateBuckets, StateStore } from '../core/types.ts';
import { timebox } from '../util/deadline.ts';
import { KeyedMutex } from '../util/locks.ts';
import type { Logger } from '../util/logger.ts';
import { MemoryDedupe } from './dedupe.ts';
import { MemoryBuckets } from './rate-limit.ts';
import { RedisBuckets, RedisDedupe } from './redis-atomic.ts';
import { RedisLock } from './redis-lock.ts';
import { SqliteAtomic } from './sqlite-atomic.ts';

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

const NAMESPACE = 'imagesearch';
const PRUNE_EVERY_MS = 60 * 60 * 1000;

interface Backend {
  kind: ManagedStateStore['backend'];
  keyv: Keyv;
  opTimeoutMs: number;
  /** Cheap check that skips a doomed call while a connection is known to be down. */
  connected(): boolean;
  lock?: RedisLock;
  /** The backend's own atomic operations; absent for the in-memory backend (the process's are used). */
  dedupe?: Dedupe;
  buckets?: RateBuckets;
  /** Connection events (Redis), so outages and recoveries are noticed without waiting for traffic. */
  onConnection?(listener: (up: boolean) => void): void;
  close(): Promise<void>;
}

/**
 * Creates the conversation state store. Every operation is time-boxed and never throws into the
 * user's path: while the backend is down, `get` answers undefined, `set`/`delete` are dropped,
 * `withLock` runs with the in-process lock only, and claims and rate-limit buckets are this process's.
 * One warning is logged per outage, one info on recovery.
 */
export function createStateStore(opts: StateStoreOptions): ManagedStateStore {
  const log = opts.logger.child({ component: 'state' });
  const backend = openBackend(opts, log);
  const mutex = new KeyedMutex();
  let available = true;

  const failed = (op: string, key: string, err: unknown) => {
    if (available) {
      available = false;
      log.warn({ err, op, key, backend: backend.kind }, 'state store unavailable; answering without memory');
    } else {
      log.debug({ err, op, key }, 'state operation skipped while the store is down');
    }
  };
  const succeeded = () => {
    if (!available) {
      available = true;
      log.info({ backend: backend.kind }, 'state store recovered');
    }
  };
  backend.onConnection?.((up) =>
    up ? succeeded() : failed('connection', '-', new Error('connection lost')),
  );
  backend.keyv.on('error', (err: unknown) => log.debug({ err }, 'keyv error event'));

  /** Runs `work` against the backend, time-boxed; `fallback` answers while it is down or failing. */
  async function guarded<T>(
    op: string,
    key: string,
    work: () => Promise<T>,
    fallback: () => T | Promise<T>,
  ): Promise<T> {
    if (!backend.connected()) {
      failed(op, key, new Error('not connected'));
      return fallback();
    }
    try {
      const result = await timebox(work(), backend.opTimeoutMs, `state ${op}`);
      succeeded();
      return result;
    } catch (err) {
      failed(op, key, err);
      return fallback();
    }
  }

  const localClaims = new MemoryDedupe();
  const localBuckets = new MemoryBuckets();
  const dedupe: Dedupe = {
    async claim(key, ttlMs) {
      if (!(await localClaims.claim(key, ttlMs))) return false;
      const shared = backend.dedupe;
      if (!shared) return true;
      return guarded(
        'claim',
        key,
        () => shared.claim(key, ttlMs),
        () => true,
      );
    },
  };
  const buckets: RateBuckets = {
    take(key, perMinute) {
      const shared = backend.buckets;
      if (!shared) return localBuckets.take(key, perMinute);
      return guarded(
        'rate',
        key,
        () => shared.take(key, perMinute),
        () => localBuckets.take(key, perMinute),
      );
    },
  };

  return {
    backend: backend.kind,
    replicated: backend.kind === 'redis',
    dedupe,
    buckets,
    get available() {
      // A connection event (Redis 'ready') can also prove recovery before the next operation does.
      return available && backend.connected();
    },
    async whenAvailable(timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      while (!backend.connected()) {
        if (Date.now() >= deadline) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
      return true;
    },
    get: <T>(key: string) =>
      guarded<T | undefined>(
        'get',
        key,
        () => backend.keyv.get<T>(key),
        () => undefined,
      ),
    set: async <T>(key: string, value: T, ttlMs?: number) => {
      await guarded(
        'set',
        key,
        async () => void (await backend.keyv.set(key, value, ttlMs ?? opts.ttlMs)),
        () => undefined,
      );
    },
    delete: async (key: string) => {
      await guarded(
        'delete',
        key,
        async () => void (await backend.keyv.delete(key)),
        () => undefined,
      );
    },
    withLock: <T>(key: string, fn: () => Promise<T>) =>
      mutex.run(key, async () => {
        const lock = backend.lock;
        if (!lock || !backend.connected()) return fn();
        const lockKey = `${NAMESPACE}:lock:${key}`;
        let lease: Awaited<ReturnType<RedisLock['acquire']>> | undefined;
        try {
          lease = await lock.acquire(lockKey);
          succeeded();
        } catch (err) {
          // "busy" means Redis works and another replica holds the thread: tell the user.
          if (err instanceof ImageSearchError) throw err;
          failed('lock', key, err);
        }
        try {
          return await fn();
        } finally {
          await lease?.release();
        }
      }),
    close: () => backend.close(),
  };
}

function openBackend(opts: StateStoreOptions, log: Logger): Backend {
  const url = opts.url?.trim() ?? '';
  if (url === '' || url.startsWith('sqlite://')) {
    const file = url === '' ? path.join(opts.dataDir, 'state.sqlite') : url.slice('sqlite://'.length);
    return openSqlite(path.resolve(file), opts, log);
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return openRedis(url, opts, log);
  if (url === 'memory://') {
    return {
      kind: 'memory',
      keyv: new Keyv({ namespace: NAMESPACE }),
      opTimeoutMs: opts.opTimeoutMs ?? 1000,
      connected: () => true,
      close: async () => undefined,
    };
  }
  throw new ImageSearchError(
    'config_invalid',
    'STATE_URL must be empty, sqlite://FILE, redis://… or rediss://…',
  );
}

function openSqlite(file: string, opts: StateStoreOptions, log: Logger): Backend {
  mkdirSync(path.dirname(file), { recursive: true });
  const store = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 2000 });
  store.on('error', (err: unknown) => log.error({ err, file }, 'cannot open the SQLite state file'));
  const keyv = new Keyv({ store, namespace: NAMESPACE });
  // Write-ahead log with synchronous=NORMAL: a commit appends to the log instead of syncing the file
  // (about 19 ms → 0.2 ms a write on this project's CI disk; a search writes its conversation, its
  // rate-limit buckets and its request key), readers never wait for the writer, and processes on one
  // machine still share the file. A power cut may lose the last commits, never corrupt the file:
  // right for conversation memory and retry keys.
  const tuned = (async () => {
    await store.query('PRAGMA journal_mode=WAL');
    await store.query('PRAGMA synchronous=NORMAL');
  })().catch((err: unknown) =>
    log.warn({ err, file }, 'SQLite state: WAL mode not available; writes stay slower'),
  );
  const atomic = new SqliteAtomic(async (sql, params) => {
    await tuned;
    return store.query(sql, params);
  });
  // keyv drops expired entries only when they are read again; delete forgotten conversations too.
  const prune = async () => {
    try {
      await store.query(
        `DELETE FROM ${store.opts.table} WHERE json_extract(value, '$.expires') < ?`,
        Date.now(),
      );
      await atomic.prune();
    } catch (err) {
      log.debug({ err }, 'state prune failed');
    }
  };
  void prune();
  const timer = setInterval(() => void prune(), PRUNE_EVERY_MS);
  timer.unref();
  log.info({ file }, 'conversation state in SQLite');
  return {
    kind: 'sqlite',
    keyv,
    dedupe: atomic,
    buckets: atomic,
    opTimeoutMs: opts.opTimeoutMs ?? 1000,
    connected: () => true,
    close: async () => {
      clearInterval(timer);
      await store.disconnect().catch(() => undefined);
    },
  };
}

function openRedis(url: string, opts: StateStoreOptions, log: Logger): Backend {
  const client = createClient({
    url,
    // Fail commands at once while disconnected instead of queueing them behind a dead socket.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 1000,
      // Never give up: the store recovers by itself when Redis comes back.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
    },
  });
  // node-redis emits 'error' on every failed reconnect; the store logs outages itself.
  client.on('error', (err: unknown) => log.debug({ err }, 'redis client error'));
  // Not awaited: connect() resolves only once Redis answers, which may be much later.
  client.connect().catch((err: unknown) => log.debug({ err }, 'redis connect failed'));
  const store = new KeyvRedis(client, {
    namespace: NAMESPACE,
    throwOnErrors: true,
    throwOnConnectError: true,
  });
  const keyv = new Keyv({ store, namespace: NAMESPACE, useKeyPrefix: false, throwOnErrors: true });
  const opTimeoutMs = opts.opTimeoutMs ?? 300;
  const lockOptions = { opTimeoutMs, ...(opts.lockTtlMs ? { ttlMs: opts.lockTtlMs } : {}) };
  const lock = new RedisLock(client, {
    ...lockOptions,
    ...(opts.lockWaitMs ? { waitMs: opts.lockWaitMs } : {}),
  });
  log.info({ host: new URL(url).host }, 'conversation state in Redis');
  return {
    kind: 'redis',
    keyv,
    opTimeoutMs,
    connected: () => client.isReady,
    lock,
    dedupe: new RedisDedupe(client),
    buckets: new RedisBuckets(client),
    onConnection: (listener) => {
      client.on('ready', () => listener(true));
      client.on('reconnecting', () => listener(false));
    },
    close: async () => {
      if (!client.isOpen) return;
      try {
        await timebox(client.close(), 1000, 'redis close');
      } catch {
        if (client.isOpen) client.destroy();
      }
    },
  };
}
