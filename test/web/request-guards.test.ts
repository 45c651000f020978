/**
 * The web chat answers only to its own names and its own pages: a Host header that is not a loopback
 * name, an IP address or PUBLIC_URL's host is a DNS-rebinding attempt (421); a POST whose Origin is
 * another site is a cross-site request (403). And the web chat is off by default when the bot
 * listens beyond loopback.
 */
import http from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../adapters/app/http-server.ts';
import { webPlatform } from '../../adapters/web/platform.ts';
import { hostAllowed, originAllowed, requestGuard } from '../../adapters/web/request-guards.ts';
import { createWebAdapter } from '../../adapters/web/web-adapter.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import { loadConfig } from '../../src/util/config.ts';
import { createLogger, silentLogger } from '../../src/util/logger.ts';
import { RecordingHandler } from '../support/recording-handler.ts';

let server: HttpServer;
let port: number;
let handler: RecordingHandler;

beforeAll(async () => {
  const logger = silentLogger();
  handler = new RecordingHandler();
  const web = createWebAdapter({ handler, logger, publicUrl: 'https://bot.example.com' });
  await web.start();
  server = createHttpServer({ routes: web.routes, logger });
  port = (await server.listen(0, '127.0.0.1')).port;
});

afterAll(async () => {
  await server?.close();
});

/** A raw request: fetch will not send a Host header of our choosing. */
function request(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const chat = (headers: Record<string, string>) =>
  request(
    'POST',
    '/api/chat',
    { 'content-type': 'application/json', ...headers },
    JSON.stringify({ text: 'private photos' }),
  );

describe('Host allow-list', () => {
  it('refuses other host names with 421 on every web chat route, without running a search', async () => {
    const before = handler.requests.length;
    for (const host of ['evil.example', `evil.example:${port}`, 'bot.example.com.evil.example']) {
      expect((await chat({ host })).status).toBe(421);
      expect((await request('GET', '/', { host })).status).toBe(421);
      expect((await request('GET', '/web/app.js', { host })).status).toBe(421);
      expect(
        (await request('GET', `/api/image/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`, { host }))
          .status,
      ).toBe(421);
    }
    expect(handler.requests.length).toBe(before);
  });

  it('serves loopback names, IP addresses (health probes) and PUBLIC_URL’s host', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      'LOCALHOST',
      'app.localhost',
      `[::1]:${port}`,
      '10.1.2.3:3000',
      'bot.example.com',
      'Bot.Example.Com.',
    ]) {
      expect((await request('GET', '/', { host })).status, host).toBe(200);
      expect((await chat({ host })).status, host).toBe(200);
    }
  });

  it('leaves routes that are not the web chat’s alone', async () => {
    expect((await request('GET', '/healthz', { host: 'evil.example' })).status).toBe(200);
  });
});

describe('Origin check on posts', () => {
  it('refuses a post from another site with 403, without running a search', async () => {
    const before = handler.requests.length;
    for (const origin of [
      'http://evil.example',
      `http://evil.example:${port}`,
      'null',
      'https://bot.example.com:8443',
    ]) {
      const res = await chat({ host: `127.0.0.1:${port}`, origin });
      expect(res.status, origin).toBe(403);
    }
    expect(handler.requests.length).toBe(before);
  });

  it('serves posts from its own page, from PUBLIC_URL, and from clients that send no Origin', async () => {
    expect((await chat({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect((await chat({ host: 'bot.example.com', origin: 'https://bot.example.com' })).status).toBe(200);
    expect((await chat({ host: `127.0.0.1:${port}` })).status).toBe(200);
  });
});

describe('web chat default and PUBLIC_URL', () => {
  it('is on for a loopback HOST and off beyond it unless WEB_CHAT=1', () => {
    expect(loadConfig({}).webChat).toBe(true);
    expect(loadConfig({ HOST: 'localhost' }).webChat).toBe(true);
    expect(loadConfig({ HOST: '::1' }).webChat).toBe(true);
    expect(loadConfig({ HOST: '0.0.0.0' }).webChat).toBe(false);
    expect(loadConfig({ HOST: '192.168.1.10' }).webChat).toBe(false);
    expect(loadConfig({ HOST: '0.0.0.0', WEB_CHAT: '1' }).webChat).toBe(true);
    expect(loadConfig({ HOST: '127.0.0.1', WEB_CHAT: '0' }).webChat).toBe(false);
  });

  it('says in the log why the web chat is off', () => {
    let out = '';
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    expect(webPlatform.configure(loadConfig({ HOST: '0.0.0.0' }), logger)).toBeUndefined();
    expect(out).toMatch(/web chat is off.*WEB_CHAT=1/);
  });

  it('validates PUBLIC_URL and names it, never its value', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://bot.example.com/' }).publicUrl).toBe('https://bot.example.com');
    for (const bad of ['ftp://SECRETish.example', 'not a url SECRETish']) {
      let error: unknown;
      try {
        loadConfig({ PUBLIC_URL: bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ImageSearchError);
      expect((error as Error).message).toContain('PUBLIC_URL');
      expect((error as Error).message).not.toContain('SECRETish');
    }
  });
});

describe('the guards as functions: every form of Host, Origin and PUBLIC_URL', () => {
  it('Host: loopback names, IP literals with or without ports, PUBLIC_URL’s host in any case; nothing else', () => {
    for (const host of [
      undefined,
      '',
      'localhost',
      'LOCALHOST:3000',
      'localhost.:3000',
      'app.localhost',
      '127.0.0.1:3000',
      '127.9.9.9',
      '[::1]:3000',
      '[::1]',
      '10.0.0.7:8080',
      '[2001:db8::1]:443',
      ' 192.0.2.1 ',
      // Node trims header values itself; called directly, the guard trims too.
      ' [::1]:3000 ',
    ])
      expect(hostAllowed(host, undefined), String(host)).toBe(true);
    for (const host of [
      'evil.example',
      'evil.example:3000',
      'localhost.evil.example',
      '127.1',
      '0x7f.0.0.1',
      '[::1',
    ])
      expect(hostAllowed(host, undefined), host).toBe(false);
    expect(hostAllowed('bot.example.com', 'bot.example.com')).toBe(true);
    expect(hostAllowed('Bot.Example.COM:443', 'bot.example.com')).toBe(true);
    expect(hostAllowed('bot.example.com.', 'bot.example.com')).toBe(true);
    expect(hostAllowed('other.example.com', 'bot.example.com')).toBe(false);
    expect(hostAllowed('bot.example.com', undefined)).toBe(false);
  });

  it('Origin: none passes; the same host (any scheme) or PUBLIC_URL’s exact origin pass; null, junk and other sites do not', () => {
    expect(originAllowed(undefined, 'localhost:3000', undefined)).toBe(true);
    expect(originAllowed('http://localhost:3000', 'localhost:3000', undefined)).toBe(true);
    // A TLS-terminating proxy: the page was https, the bot sees http. Host compared without case.
    expect(originAllowed('https://localhost:3000', ' LocalHost:3000 ', undefined)).toBe(true);
    expect(originAllowed('http://localhost:3001', 'localhost:3000', undefined)).toBe(false);
    expect(originAllowed('http://evil.example', 'localhost:3000', undefined)).toBe(false);
    expect(originAllowed('null', 'localhost:3000', undefined)).toBe(false);
    expect(originAllowed('not a url', 'localhost:3000', undefined)).toBe(false);
    expect(originAllowed('http://localhost:3000', undefined, undefined)).toBe(false);
    const pub = 'https://bot.example.com';
    expect(originAllowed('https://bot.example.com', '10.0.0.5:3000', pub)).toBe(true);
    // PUBLIC_URL's origin exactly: another scheme or port is another site.
    expect(originAllowed('http://bot.example.com', '10.0.0.5:3000', pub)).toBe(false);
    expect(originAllowed('https://bot.example.com:8443', '10.0.0.5:3000', pub)).toBe(false);
  });
});

describe('requestGuard on a server of its own', () => {
  it('guards only the paths it owns (query strings ignored), refuses with plain uncached text, and checks Origin on state-changing methods only', async () => {
    const guard = requestGuard({ publicUrl: 'https://bot.example.com', owns: (p) => p.startsWith('/chat') });
    const own = http.createServer((req, res) => {
      if (!guard(req, res)) res.end('served');
    });
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    const ownPort = (own.address() as { port: number }).port;
    const send = (method: string, p: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: ownPort, method, path: p, headers }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const evil = { host: 'evil.example' };
      expect(await send('GET', '/other?chat=1', evil)).toMatchObject({ status: 200, body: 'served' });
      const refused = await send('GET', '/chat?x=1', evil);
      expect(refused).toMatchObject({
        status: 421,
        body: 'This address is not one imagesearch answers to. If it is yours, set PUBLIC_URL to it.',
      });
      expect(refused.headers).toMatchObject({
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'close',
      });
      // A Host with blanks around it is still read as the name it carries.
      expect((await send('GET', '/chat', { host: ' [::1]:3000 ' })).status).toBe(200);
      const foreign = { host: `127.0.0.1:${ownPort}`, origin: 'http://evil.example' };
      expect(await send('POST', '/chat', foreign)).toMatchObject({
        status: 403,
        body: 'Requests from other sites are not accepted.',
      });
      for (const method of ['PUT', 'PATCH', 'DELETE'])
        expect((await send(method, '/chat', foreign)).status).toBe(403);
      expect((await send('GET', '/chat', foreign)).status).toBe(200);
      expect((await send('POST', '/other', foreign)).status).toBe(200);
    } finally {
      await new Promise((resolve) => own.close(resolve));
    }
  });
});
