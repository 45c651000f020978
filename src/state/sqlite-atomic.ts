/**
 * The same atomic operations as ./redis-atomic.ts, in the SQLite state file: set-if-absent with a
 * TTL ({@link Dedupe}) and GCRA token buckets ({@link RateBuckets}). Each is ONE statement (an UPSERT
 * with RETURNING), and SQLite runs a statement under its database write lock, so several processes
 * sharing the file on one machine see the same claims and the same buckets.
 */
import type { Dedupe, RateBuckets, RateDecision } from '../core/types.ts';

/** Runs one statement with positional parameters and answers its rows (KeyvSqlite's `query`). */
export type SqliteQuery = (sql: string, params: readonly unknown[]) => Promise<unknown[]>;

const CLAIMS = 'imagesearch_claims';
const BUCKETS = 'imagesearch_buckets';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${CLAIMS}(key TEXT PRIMARY KEY, expires INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS ${BUCKETS}(key TEXT PRIMARY KEY, tat REAL NOT NULL) WITHOUT ROWID`,
];

// A claim wins when the key is new or its previous claim has expired (then it is taken over).
const CLAIM = `INSERT INTO ${CLAIMS}(key, expires) VALUES (?1, ?2 + ?3)
  ON CONFLICT(key) DO UPDATE SET expires = excluded.expires WHERE ${CLAIMS}.expires <= ?2
  RETURNING key`;

// gcraStep (./rate-limit.ts) as one statement: ?2 now, ?3 interval, ?4 window (+1 ms of slack).
// A row comes back only when the token was taken; a full (or new) bucket always has one.
const TAKE = `INSERT INTO ${BUCKETS}(key, tat) VALUES (?1, ?2 + ?3)
  ON CONFLICT(key) DO UPDATE SET tat = max(tat, ?2) + ?3 WHERE max(tat, ?2) + ?3 - ?2 <= ?4 + 1
  RETURNING tat`;

const WINDOW_MS = 60_000;

/** Claims and buckets in one SQLite file. */
export class SqliteAtomic implements Dedupe, RateBuckets {
  readonly #query: SqliteQuery;
  readonly #now: () => number;
  readonly #ready: Promise<void>;

  constructor(query: SqliteQuery, now: () => number = Date.now) {
    this.#query = query;
    this.#now = now;
    this.#ready = (async () => {
      for (const statement of SCHEMA) await query(statement, []);
    })();
    // Surfaced by the first operation; never an unhandled rejection.
    this.#ready.catch(() => undefined);
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    await this.#ready;
    const rows = await this.#query(CLAIM, [key, this.#now(), Math.max(1, Math.ceil(ttlMs))]);
    return rows.length === 1;
  }

  async take(key: string, perMinute: number): Promise<RateDecision> {
    await this.#ready;
    const now = this.#now();
    const interval = WINDOW_MS / perMinute;
    const rows = await this.#query(TAKE, [key, now, interval, WINDOW_MS]);
    if (rows.length === 1) return { ok: true };
    // Refused: read how far ahead the bucket is, for the "wait N s" answer (advice, not a decision).
    const [row] = (await this.#query(`SELECT tat FROM ${BUCKETS} WHERE key = ?1`, [key])) as {
      tat?: number;
    }[];
    const ahead = Math.max(row?.tat ?? now, now) + interval - now;
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil(ahead - WINDOW_MS)) };
  }

  /** Deletes expired claims and refilled buckets (neither changes any answer; they only take space). */
  async prune(): Promise<void> {
    await this.#ready;
    const now = this.#now();
    await this.#query(`DELETE FROM ${CLAIMS} WHERE expires <= ?1`, [now]);
    await this.#query(`DELETE FROM ${BUCKETS} WHERE tat <= ?1`, [now]);
  }

  /** Rows held (tests: pruning is observable). */
  async count(): Promise<{ claims: number; buckets: number }> {
    await this.#ready;
    const [c] = (await this.#query(`SELECT count(*) AS n FROM ${CLAIMS}`, [])) as { n: number }[];
    const [b] = (await this.#query(`SELECT count(*) AS n FROM ${BUCKETS}`, [])) as { n: number }[];
    return { claims: c?.n ?? 0, buckets: b?.n ?? 0 };
  }
}
