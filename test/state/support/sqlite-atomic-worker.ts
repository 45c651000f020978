/**
 * One of several processes sharing a SQLite state file (test/state/atomic.test.ts): claims every key
 * and takes from one bucket as fast as it can, then prints what it won as one JSON line.
 */
import KeyvSqlite from '@keyv/sqlite';
import { SqliteAtomic } from '../../../src/state/sqlite-atomic.ts';

const [file, keys, takes] = process.argv.slice(2);
const store = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 10_000 });
const atomic = new SqliteAtomic((sql, params) => store.query(sql, params));
const claimed: string[] = [];
let allowed = 0;
const work: Promise<void>[] = [];
for (let i = 0; i < Number(keys); i++) {
  work.push(
    atomic.claim(`key-${i}`, 60_000).then((won) => {
      if (won) claimed.push(`key-${i}`);
    }),
  );
}
for (let i = 0; i < Number(takes); i++) {
  work.push(
    atomic.take('shared-bucket', 10).then((d) => {
      if (d.ok) allowed++;
    }),
  );
}
await Promise.all(work);
await store.disconnect();
process.stdout.write(`${JSON.stringify({ claimed, allowed })}\n`);
