/**
 * A cookie-less web request gets a new session; what is kept of it is bounded (issue 22): nothing
 * unless the answer gave it something to continue, a short TTL until the browser comes back with its
 * cookie, and at most a few per client address. A browser that comes back is an ordinary conversation.
 */
import path from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../adapters/app/http-server.ts';
import type { AnonymousLimits } from '../../adapters/web/anonymous-conversations.ts';
import { SESSION_COOKIE } from '../../adapters/web/session.ts';
import { createWebAdapter } from '../../adapters/web/web-adapter.ts';
import { conversationKey } from '../../src/conversation/conversation-state.ts';
import { ConversationEngine } from '../../src/conversation/engine.ts';
import { createStateStore, type ManagedStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { tempDir } from '../support/fixtures.ts';
import { createMemorySearchService } from '../support/memory-search.ts';

let http: HttpServer | undefined;
let state: ManagedStateStore | undefined;
let dataDir = '';
const DAY_MS = 24 * 60 * 60 * 1000;

afterEach(async () => {
  await http?.close();
  await state?.close();
});

async function start(anonymous: Partial<AnonymousLimits>): Promise<string> {
  const logger = silentLogger();
  dataDir = tempDir();
  state = createStateStore({ dataDir, ttlMs: 7 * DAY_MS, logger });
  const handler = new ConversationEngine({
    search: createMemorySearchService(),
    state,
    logger,
    rateLimitPerMinute: 1000,
    maxConcurrent: 4,
    ttlMs: 7 * DAY_MS,
  });
  const web = createWebAdapter({
    handler,
    logger,
    state,
    anonymous,
    proxyTrust: { trust: { kind: 'addresses', ranges: ['127.0.0.1'] }, header: 'x-forwarded-for' },
  });
  await web.start();
  http = createHttpServer({ routes: web.routes, logger });
  return (await http.listen(0, '127.0.0.1')).url;
}

/** A chat post; returns the reply kind and the session the response is in (cookie sent or issued). */
async function chat(
  base: string,
  text: string,
  opts: { from?: string; cookie?: string; followUp?: boolean } = {},
): Promise<{ kind: string; session: string }> {
  const res = await fetch(`${base}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({ text, ...(opts.followUp ? { followUp: '1' } : {}) }),
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': opts.from ?? '198.51.100.1',
      ...(opts.cookie ? { cookie: `${SESSION_COOKIE}=${opts.cookie}` } : {}),
    },
  });
  const issued = /imagesearch_session=([\w-]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  const kind = ((await res.json()) as { kind: string }).kind;
  return { kind, session: issued ?? opts.cookie ?? '' };
}

const stored = async (session: string) => (await state!.get(conversationKey(`web:${session}`))) !== undefined;
/** How long the stored conversation of `session` has left to live (read from the SQLite file). */
async function ttlLeft(session: string): Promise<number | undefined> {
  const raw = new KeyvSqlite({ uri: `sqlite://${path.join(dataDir, 'state.sqlite')}` });
  try {
    const rows = (await raw.query(
      "SELECT json_extract(value, '$.expires') AS expires FROM keyv WHERE key LIKE ?",
      `%${conversationKey(`web:${session}`)}`,
    )) as { expires: number }[];
    return rows[0] ? rows[0].expires - Date.now() : undefined;
  } finally {
    await raw.disconnect();
  }
}

describe('conversations of new web sessions', () => {
  it('keeps nothing without results, keeps a first search for an hour, and fully once the browser returns', async () => {
    const base = await start({});
    const blank = await chat(base, 'start over');
    expect(blank.kind).toBe('notice');
    expect(await stored(blank.session)).toBe(false);

    const once = await chat(base, 'cat');
    const back = await chat(base, 'dog');
    expect(once.kind).toBe('results');
    expect(await stored(once.session)).toBe(true);
    expect(await ttlLeft(once.session)).toBeLessThanOrEqual(60 * 60 * 1000);
    // The second browser comes back with its cookie: an ordinary turn, stored for the full TTL.
    expect((await chat(base, '4 more', { cookie: back.session, followUp: true })).kind).toBe('results');
    expect(await ttlLeft(back.session)).toBeGreaterThan(6 * DAY_MS);
  });

  it('keeps at most perAddressPerHour first conversations per client address', async () => {
    const base = await start({ perAddressPerHour: 3 });
    const sessions: string[] = [];
    for (let i = 0; i < 5; i++)
      sessions.push((await chat(base, `cat ${i}`, { from: '203.0.113.5' })).session);
    const kept = await Promise.all(sessions.map(stored));
    expect(kept).toEqual([true, true, true, false, false]);
    // Another address is not held back by that one.
    const other = await chat(base, 'cat', { from: '203.0.113.6' });
    expect(await stored(other.session)).toBe(true);
    // A browser over the cap still gets its answers; its follow-up says the conversation expired.
    const late = sessions[4]!;
    expect((await chat(base, '4 more', { cookie: late, followUp: true, from: '203.0.113.5' })).kind).toBe(
      'notice',
    );
  });
});
