/** The Redis state backend (`STATE_URL=redis://…`): shared by every replica. */
import KeyvRedis, { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import { timebox } from '../util/deadline.ts';
import { type Backend, type BackendOptions, NAMESPACE } from './backend.ts';
import { withCompactVectors } from './compact-vectors.ts';
import { RedisBuckets, RedisDedupe } from './redis-atomic.ts';
import { RedisLock } from './redis-lock.ts';

/**
 * Most commands one client keeps written-but-unanswered or waiting to be written. A stalled Redis
 * (socket open, no answers) never drains the queue, and node-redis's own command timeout only
 * removes commands not yet written; the store stops sending after the first timeout anyway, so
 * this bound is a backstop, not the mechanism.
 */
export const REDIS_QUEUE_MAX = 256;

export function openRedisBackend(url: string, opts: BackendOptions): Backend {
  const log = opts.logger;
  const opTimeoutMs = opts.opTimeoutMs ?? 300;
  const client = createClient({
    url,
    // Fail commands at once while disconnected instead of queueing them behind a dead socket.
    disableOfflineQueue: true,
    commandsQueueMaxLength: REDIS_QUEUE_MAX,
    // Every command carries its own timeout, so a hung socket rejects it even outside a time box.
    commandOptions: { timeout: opTimeoutMs },
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
  const keyv = withCompactVectors(
    new Keyv({ store, namespace: NAMESPACE, useKeyPrefix: false, throwOnErrors: true }),
  );
  const lock = new RedisLock(client, {
    opTimeoutMs,
    ...(opts.lockTtlMs ? { ttlMs: opts.lockTtlMs } : {}),
    ...(opts.lockWaitMs ? { waitMs: opts.lockWaitMs } : {}),
  });
  log.info({ host: new URL(url).host }, 'conversation state in Redis');
  return {
    kind: 'redis',
    keyv,
    opTimeoutMs,
    connected: () => client.isReady,
    probe: async () => void (await client.ping()),
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
