/**
 * Uploads cannot exhaust the bot: only a few are read at once (the rest are told "busy" before a
 * byte of theirs is buffered), and an upload the client abandons ends its request at once, so a
 * shutdown does not wait out its grace period for it.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../adapters/app/http-server.ts';
import { createWebAdapter, type WebAdapter } from '../../adapters/web/web-adapter.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { RecordingHandler } from '../support/recording-handler.ts';

const BOUNDARY = 'xxUPLOADxx';
const HEAD = [
  `--${BOUNDARY}`,
  'Content-Disposition: form-data; name="image"; filename="big.png"',
  'Content-Type: image/png',
  '',
  '',
].join('\r\n');

let server: HttpServer | undefined;
let web: WebAdapter | undefined;

afterEach(async () => {
  await web?.stop();
  await server?.close();
  server = undefined;
  web = undefined;
});

/** All uploads come from 127.0.0.1 here, so one client may take every slot (fairness: slow-clients.test.ts). */
async function start(maxConcurrentUploads: number): Promise<number> {
  const logger = silentLogger();
  web = createWebAdapter({
    handler: new RecordingHandler(),
    logger,
    maxConcurrentUploads,
    maxUploadsPerClient: maxConcurrentUploads,
  });
  await web.start();
  server = createHttpServer({ routes: web.routes, logger });
  return (await server.listen(0, '127.0.0.1')).port;
}

/** A multipart upload that sends its first bytes and then waits (a slow or stalled client). */
function stalledUpload(port: number): { req: http.ClientRequest; response: Promise<number> } {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/api/chat',
    headers: {
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
      'content-length': String(4 * 1024 * 1024),
    },
  });
  const response = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(-1));
  });
  req.write(HEAD);
  req.write(Buffer.alloc(64 * 1024, 7));
  return { req, response };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('web uploads', () => {
  it('answers "busy" past the concurrent-upload cap, before reading the body', async () => {
    const port = await start(2);
    const a = stalledUpload(port);
    const b = stalledUpload(port);
    await settle(200);
    const form = new FormData();
    form.append('image', new Blob([Buffer.alloc(1024, 1)], { type: 'image/png' }), 'c.png');
    const third = await fetch(`http://127.0.0.1:${port}/api/chat`, { method: 'POST', body: form });
    expect(third.status).toBe(503);
    expect(await third.json()).toMatchObject({ kind: 'notice', text: expect.stringMatching(/busy|moment/i) });
    // Text messages are not uploads and are not held up by them.
    const text = await fetch(`http://127.0.0.1:${port}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'cats' }),
    });
    expect(text.status).toBe(200);
    a.req.destroy();
    b.req.destroy();
    await Promise.all([a.response, b.response]);
    await settle(100);
    // Their slots are free again.
    const again = await fetch(`http://127.0.0.1:${port}/api/chat`, { method: 'POST', body: form });
    expect(again.status).not.toBe(503);
  });

  it('ends an aborted upload’s request at once: shutdown does not wait for it', async () => {
    const port = await start(4);
    const upload = stalledUpload(port);
    await settle(200);
    upload.req.destroy();
    await upload.response;
    await settle(100);
    const started = performance.now();
    await web!.stop();
    expect(performance.now() - started).toBeLessThan(3000);
  });
});
