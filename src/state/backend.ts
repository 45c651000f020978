/**
 * What one state backend (SQLite, Redis, memory) gives the state store (./state-store.ts): a keyv
 * for conversations, its own atomic operations, and how to tell whether it answers. One file per
 * backend implements it; the store wraps every call in the same time box and outage handling.
 */
import type Keyv from 'keyv';
import type { Dedupe, RateBuckets } from '../core/types.ts';
import type { Logger } from '../util/logger.ts';
import type { RedisLock } from './redis-lock.ts';

/** Key namespace shared by every backend. */
export const NAMESPACE = 'imagesearch';

/** Settings every backend reads (a subset of StateStoreOptions). */
export interface BackendOptions {
  ttlMs: number;
  logger: Logger;
  opTimeoutMs?: number | undefined;
  lockTtlMs?: number | undefined;
  lockWaitMs?: number | undefined;
}

export interface Backend {
  kind: 'sqlite' | 'redis' | 'memory';
  keyv: Keyv;
  opTimeoutMs: number;
  /** Cheap check that skips a doomed call while a connection is known to be down. */
  connected(): boolean;
  /**
   * One cheap round trip (Redis PING). Backends that have it are not sent user operations after a
   * failure; the store probes on a timer instead until this answers. Without it, operations
   * themselves are tried (SQLite: a local file, nothing to pile up behind).
   */
  probe?(): Promise<void>;
  lock?: RedisLock;
  /** The backend's own atomic operations; absent for the in-memory backend (the process's are used). */
  dedupe?: Dedupe;
  buckets?: RateBuckets;
  /** Connection events (Redis), so outages and recoveries are noticed without waiting for traffic. */
  onConnection?(listener: (up: boolean) => void): void;
  close(): Promise<void>;
}
