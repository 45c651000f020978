/** The SQLite state backend: one file on this machine (default `<dataDir>/state.sqlite`). */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { type Backend, type BackendOptions, NAMESPACE } from './backend.ts';
import { withCompactVectors } from './compact-vectors.ts';
import { SqliteAtomic } from './sqlite-atomic.ts';

const PRUNE_EVERY_MS = 60 * 60 * 1000;

export function openSqliteBackend(file: string, opts: BackendOptions): Backend {
  const log = opts.logger;
  mkdirSync(path.dirname(file), { recursive: true });
  const store = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 2000 });
  store.on('error', (err: unknown) => log.error({ err, file }, 'cannot open the SQLite state file'));
  const keyv = withCompactVectors(new Keyv({ store, namespace: NAMESPACE }));
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
