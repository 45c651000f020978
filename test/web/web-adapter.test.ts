import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../adapters/app/http-server.ts';
import { toWebReply, type WebReply } from '../../adapters/web/reply-json.ts';
import { SESSION_COOKIE } from '../../adapters/web/session.ts';
import { createWebAdapter } from '../../adapters/web/web-adapter.ts';
import { ConversationEngine } from '../../src/conversation/engine.ts';
import { createStateStore, type ManagedStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { tempDir } from '../support/fixtures.ts';
import { createMemorySearchService } from '../support/memory-search.ts';

let http: HttpServer;
let base: string;
let state: ManagedStateStore;

beforeAll(async () => {
  const logger = silentLogger();
  state = createStateStore({ dataDir: tempDir(), ttlMs: 60_000, logger });
  const handler = new ConversationEngine({
    search: createMemorySearchService(),
    state,
    logger,
    rateLimitPerMinute: 1000,
    maxConcurrent: 4,
    ttlMs: 60_000,
  });
  const web = createWebAdapter({ handler, logger, maxUploadBytes: 64 * 1024 });
  await web.start();
  http = createHttpServer({ routes: web.routes, logger, maxBodyBytes: 256 * 1024 });
  base = (await http.listen(0, '127.0.0.1')).url;
});

afterAll(async () => {
  await http?.close();
  await state?.close();
});

async function session(): Promise<string> {
  const res = await fetch(`${base}/`);
  const cookie = res.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[\\w-]{16,}; Path=/; HttpOnly; SameSite=Lax`));
  return cookie.split(';')[0] ?? '';
}

async function chat(cookie: string, body: Record<string, string> | FormData): Promise<[number, WebReply]> {
  const init: RequestInit =
    body instanceof FormData
      ? { method: 'POST', body, headers: { cookie } }
      : {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { cookie, 'content-type': 'application/json' },
        };
  const res = await fetch(`${base}/api/chat`, init);
  return [res.status, (await res.json()) as WebReply];
}

const pickIds = (r: WebReply) => (r.kind === 'results' ? r.picks.map((p) => p.id) : []);

describe('web replies', () => {
  it('carry a link only when it is http(s)', async () => {
    const entry = (pageUrl: string) => ({ id: 'a', pageUrl });
    const pick = (n: number, pageUrl: string) => ({ id: `p${n}`, n, score: 0.5, entry: entry(pageUrl) });
    const reply = await toWebReply(
      {
        kind: 'results',
        text: 'x',
        actions: [],
        reply: {
          query: 'q',
          picks: [
            pick(1, 'javascript:alert(document.cookie)'),
            pick(2, 'data:text/html,<script>alert(1)</script>'),
            pick(3, 'https://example.test/photos/3'),
          ],
          grid: Buffer.from([0xff, 0xd8]),
          mime: 'image/jpeg',
          fileName: 'g.jpg',
          caption: 'c',
          rankedBy: 'clip',
          timingsMs: {},
        },
      },
      async () => 'id',
    );
    if (reply.kind !== 'results') throw new Error('expected results');
    expect(reply.picks.map((p) => p.link)).toEqual([undefined, undefined, 'https://example.test/photos/3']);
    const open = await toWebReply(
      { kind: 'open', text: 'x', pick: pick(1, 'javascript:alert(1)') },
      async () => 'id',
    );
    expect(open).not.toHaveProperty('link');
  });
});

describe('HTTP server', () => {
  it('answers /healthz, 404s unknown paths, refuses oversized bodies', async () => {
    const ok = await fetch(`${base}/healthz`);
    expect([ok.status, await ok.text()]).toEqual([200, 'ok']);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const big = await fetch(`${base}/api/chat`, { method: 'POST', body: 'x'.repeat(300 * 1024) });
    expect(big.status).toBe(413);
  });
});

describe('web chat adapter', () => {
  it('serves the page, script and stylesheet with a CSP', async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('/web/app.js');
    expect((await fetch(`${base}/web/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${base}/web/app.css`)).headers.get('content-type')).toMatch(/text\/css/);
  });

  it('query → grid served as a real image URL → follow-ups in the same conversation', async () => {
    const cookie = await session();
    const [status, first] = await chat(cookie, { text: 'cat on a beach', requestId: 'req-00000001' });
    expect(status).toBe(200);
    if (first.kind !== 'results') throw new Error(first.text);
    expect(first.gridUrl).toMatch(/^\/api\/image\/[0-9a-f-]{36}$/);
    expect(first.actions.map((a) => a.id)).toContain('is:more:2');
    const grid = await fetch(`${base}${first.gridUrl}`);
    expect(grid.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await grid.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));

    const [, second] = await chat(cookie, { text: 'more like 2', followUp: '1' });
    const [, third] = await chat(cookie, { action: 'is:reroll', followUp: '1' });
    const all = [...pickIds(first), ...pickIds(second), ...pickIds(third)];
    expect(new Set(all).size).toBe(12);

    const [, open] = await chat(cookie, { action: 'is:open:1', followUp: '1' });
    if (open.kind !== 'open') throw new Error('expected open');
    expect(open.id).toBe(pickIds(third)[0]);
    expect(open.imageUrl).toMatch(/^\/api\/image\//);
    expect((await fetch(`${base}${open.imageUrl}`)).status).toBe(200);

    // The same request id again: the same answer, no new search.
    const [, again] = await chat(cookie, { text: 'cat on a beach', requestId: 'req-00000001' });
    expect(pickIds(again)).toEqual(pickIds(first));
  });

  it('keeps sessions apart', async () => {
    const [a, b] = [await session(), await session()];
    await chat(a, { text: 'dog' });
    const [, other] = await chat(b, { text: '4 more', followUp: '1' });
    expect(other).toMatchObject({ kind: 'notice' });
    const [, mine] = await chat(a, { text: '4 more', followUp: '1' });
    expect(mine.kind).toBe('results');
  });

  it('image upload searches by image; too big or unreadable uploads get friendly answers', async () => {
    const cookie = await session();
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#cc3366' } })
      .png()
      .toBuffer();
    const form = new FormData();
    form.append('image', new Blob([png], { type: 'image/png' }), 'photo.png');
    const [, byImage] = await chat(cookie, form);
    expect(byImage).toMatchObject({ kind: 'results', query: 'images like yours' });

    const huge = new FormData();
    huge.append('image', new Blob([Buffer.alloc(100 * 1024, 1)], { type: 'image/png' }), 'big.png');
    const [status, tooBig] = await chat(cookie, huge);
    expect(status).toBe(413);
    expect(tooBig).toMatchObject({ kind: 'notice', text: expect.stringMatching(/too big/) });

    const junk = new FormData();
    junk.append('image', new Blob([Buffer.from('not an image')], { type: 'image/png' }), 'x.png');
    const [, unreadable] = await chat(cookie, junk);
    expect(unreadable).toMatchObject({
      kind: 'notice',
      text: expect.stringMatching(/couldn't read that image/),
    });
  });

  it('expired images 404 with a short message; bad posts get a notice', async () => {
    expect((await fetch(`${base}/api/image/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
    const res = await fetch(`${base}/api/chat`, {
      method: 'POST',
      body: 'hi',
      headers: { 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ kind: 'notice' });
  });

  it('a malformed session cookie counts as no session (a new one is issued), never a 500', async () => {
    // Not valid percent-encoding: what a sibling subdomain could plant.
    const [status, reply] = await chat(`${SESSION_COOKIE}=%E0%A4%A`, { text: 'cat' });
    expect(status).toBe(200);
    expect(reply.kind).toBe('results');
    const page = await fetch(`${base}/`, { headers: { cookie: `${SESSION_COOKIE}=%zz` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=[\\w-]{16,};`));
    // A planted bad cookie beside a good one: the good one is kept.
    const good = await session();
    const [, first] = await chat(`${SESSION_COOKIE}=%zz; ${good}`, { text: 'cat on a beach' });
    const [, more] = await chat(good, { text: 'more like 2', followUp: '1' });
    expect(first.kind).toBe('results');
    expect(more.kind).toBe('results');
  });
});
