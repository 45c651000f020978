/**
 * The one guarded download refuses what a hostile index, manifest or redirect could aim it at:
 * other ports, and private, loopback, link-local, unique-local, unspecified and mapped addresses,
 * whether written as an IP or reached through a name (checked on the address it connects to), unless
 * the operator configured that host explicitly.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FetchGuard, GuardedFetchError, guardedFetch } from '../../src/util/guarded-fetch.ts';

let server: http.Server;
let port: number;
const hits: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits.push(`${req.headers.host}${req.url}`);
    if (req.url === '/to-localhost') {
      res.writeHead(302, { location: `http://localhost:${port}/secret` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const guard = (over: Partial<FetchGuard> = {}): FetchGuard => ({
  allow: () => true,
  maxBytes: 1024,
  timeoutMs: 3000,
  maxRedirects: 2,
  ...over,
});

async function refusal(url: string, g: FetchGuard = guard()): Promise<GuardedFetchError> {
  const e = await guardedFetch(new URL(url), g).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, url).toBeInstanceOf(GuardedFetchError);
  return e as GuardedFetchError;
}

describe('guardedFetch address and port checks', () => {
  it('refuses private, loopback, link-local, unique-local, unspecified and mapped addresses', async () => {
    const before = hits.length;
    for (const url of [
      `http://127.0.0.1:${port}/x`,
      `http://[::1]:${port}/x`,
      `http://[::ffff:127.0.0.1]:${port}/x`,
      `http://0.0.0.0:${port}/x`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/x.jpg',
      'http://192.168.1.1/x.jpg',
      'http://[fe80::1]/x.jpg',
      'http://[fd00::1]/x.jpg',
    ]) {
      expect((await refusal(url)).reason, url).toBe('not_allowed');
    }
    expect(hits.length).toBe(before);
  });

  it('checks the address a name resolves to, at connect time', async () => {
    const before = hits.length;
    // Port 80, so only the address can refuse it (a name that resolves to loopback, as a rebound
    // or misconfigured image host would).
    const e = await refusal('http://localhost/x.jpg');
    expect(e.reason).toBe('not_allowed');
    expect(e.message).toMatch(/address/);
    expect(hits.length).toBe(before);
  });

  it('refuses ports other than the scheme’s own unless the host is configured', async () => {
    // Refused before any connection: nothing here needs the network.
    expect((await refusal('https://images.example.com:8443/x.jpg')).reason).toBe('not_allowed');
    expect((await refusal('http://images.example.com:22/x.jpg')).reason).toBe('not_allowed');
  });

  it('lets configured hosts through, any port, any address', async () => {
    const ok = await guardedFetch(
      new URL(`http://127.0.0.1:${port}/ok`),
      guard({ trustedHosts: ['127.0.0.1'] }),
    );
    expect(ok.bytes.toString()).toBe('ok');
    const named = await guardedFetch(
      new URL(`http://localhost:${port}/ok`),
      guard({ trustedHosts: ['localhost'] }),
    );
    expect(named.bytes.toString()).toBe('ok');
  });

  it('checks every redirect target: a configured host cannot bounce the fetch to an unconfigured one', async () => {
    const before = hits.length;
    const e = await refusal(`http://127.0.0.1:${port}/to-localhost`, guard({ trustedHosts: ['127.0.0.1'] }));
    expect(e.reason).toBe('not_allowed');
    expect(hits.slice(before)).toEqual([`127.0.0.1:${port}/to-localhost`]);
  });
});
