/**
 * Slow clients cannot hold the web chat: slowloris-style uploaders from one address get at most
 * their share of the upload slots (another address's upload is served at once), every body has a
 * minimum rate, and a trickling client is answered with a worded 408 and its slot freed.
 * Client addresses come from X-Forwarded-For behind a trusted proxy at 127.0.0.1.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../adapters/app/http-server.ts';
import { SLOW_BODY_MESSAGE } from '../../adapters/web/upload-limits.ts';
import { createWebAdapter, type WebAdapter } from '../../adapters/web/web-adapter.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { RecordingHandler } from '../support/recording-handler.ts';

const BOUNDARY = 'xxSLOWxx';
const HEAD = [
  `--${BOUNDARY}`,
  'Content-Disposition: form-data; name="image"; filename="slow.png"',
  'Content-Type: image/png',
  '',
  '',
].join('\r\n');

let server: HttpServer | undefined;
let web: WebAdapter | undefined;
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  await web?.stop();
  await server?.close();
  server = undefined;
  web = undefined;
});

async function start(): Promise<string> {
  const logger = silentLogger();
  web = createWebAdapter({
    handler: new RecordingHandler(),
    logger,
    maxConcurrentUploads: 4,
    proxyTrust: { trust: { kind: 'addresses', ranges: ['127.0.0.1'] }, header: 'x-forwarded-for' },
    // Short so the test is quick: a window of 500 ms must bring at least 500 bytes.
    bodyLimits: { windowMs: 500, minBytesPerSecond: 1000, deadlineMs: 20_000 },
  });
  await web.start();
  server = createHttpServer({ routes: web.routes, logger });
  return `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`;
}

interface Answer {
  status: number;
  body: string;
}

/** A post from `client` that sends its head and then one byte every 200 ms, forever. */
function trickle(base: string, client: string, type: 'multipart' | 'json'): Promise<Answer> {
  const req = http.request(`${base}/api/chat`, {
    method: 'POST',
    headers: {
      'x-forwarded-for': client,
      'content-type': type === 'multipart' ? `multipart/form-data; boundary=${BOUNDARY}` : 'application/json',
      'content-length': String(1024 * 1024),
    },
  });
  const answer = new Promise<Answer>((resolve) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: -1, body: '' }));
  });
  req.write(type === 'multipart' ? HEAD : '{"text":"');
  timers.push(setInterval(() => !req.destroyed && req.write('a'), 200));
  return answer;
}

async function upload(base: string, client: string): Promise<Response> {
  const form = new FormData();
  form.append('image', new Blob([Buffer.alloc(2048, 1)], { type: 'image/png' }), 'ok.png');
  return fetch(`${base}/api/chat`, { method: 'POST', body: form, headers: { 'x-forwarded-for': client } });
}

/** `p`, or a timeout marker after `ms`: a slow client that is never cut off fails the test cleanly. */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), ms))]);

describe('slow web clients', () => {
  it('four slowloris uploads from one address cannot block another address’s upload; they are cut off with a message', async () => {
    const base = await start();
    const slow = Array.from({ length: 4 }, () => trickle(base, '10.0.0.1', 'multipart'));
    await new Promise((r) => setTimeout(r, 150));

    const other = await upload(base, '10.0.0.2');
    expect(other.status).toBe(200);
    expect(await other.json()).toMatchObject({ kind: 'results' });

    // Two held a slot (half of four); two were told "busy" at once. The holders are cut off.
    const answers = await within(Promise.all(slow), 8000);
    expect(answers).not.toBe('still waiting');
    const statuses = (answers as Answer[]).map((a) => a.status).sort();
    expect(statuses).toEqual([408, 408, 503, 503]);
    for (const a of answers as Answer[]) {
      if (a.status === 408) expect(JSON.parse(a.body)).toMatchObject({ text: SLOW_BODY_MESSAGE });
    }
    // Their slots are free again: the same address uploads normally.
    expect((await upload(base, '10.0.0.1')).status).toBe(200);
  }, 20_000);

  it('a JSON message that trickles in is cut off too', async () => {
    const base = await start();
    const answer = await within(trickle(base, '10.0.0.3', 'json'), 8000);
    expect(answer).toMatchObject({ status: 408 });
  }, 20_000);
});
