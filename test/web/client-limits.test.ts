/**
 * The web chat against clients that shed their identity (issue 12): a client without cookies gets a
 * fresh session per request, so it is limited by its address too; forwarded headers name the client
 * only when TRUST_PROXY says whose to believe; and two sessions that pick the same request id each
 * get their own reply.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../adapters/app/http-server.ts';
import { webPlatform } from '../../adapters/web/platform.ts';
import type { WebReply } from '../../adapters/web/reply-json.ts';
import { ConversationEngine } from '../../src/conversation/engine.ts';
import { createStateStore, type ManagedStateStore } from '../../src/state/state-store.ts';
import { loadConfig } from '../../src/util/config.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { clientAddress, type ProxyTrust, parseTrustProxy } from '../../src/util/trust-proxy.ts';
import { tempDir } from '../support/fixtures.ts';
import { createMemorySearchService } from '../support/memory-search.ts';

let http: HttpServer | undefined;
let state: ManagedStateStore | undefined;

afterEach(async () => {
  await http?.close();
  await state?.close();
});

/** The web chat wired from configuration as `serve` wires it (engine limits, the platform entry). */
async function startWeb(env: Record<string, string> = {}): Promise<string> {
  const logger = silentLogger();
  const config = loadConfig({ IMAGESEARCH_DATA_DIR: tempDir(), ...env });
  state = createStateStore({ dataDir: config.dataDir, ttlMs: 60_000, logger });
  const handler = new ConversationEngine({
    search: createMemorySearchService(),
    state,
    buckets: state.buckets,
    logger,
    rateLimitPerMinute: config.rateLimitPerMinute,
    rateLimitPerAddressPerMinute: config.rateLimitPerAddressPerMinute,
    maxConcurrent: 4,
    ttlMs: 60_000,
  });
  const create = webPlatform.configure(config, logger);
  if (!create) throw new Error('web chat is off');
  const web = create({ handler, logger, state, dedupe: state.dedupe });
  await web.start();
  http = createHttpServer({ routes: web.routes ?? [], logger });
  return (await http.listen(0, '127.0.0.1')).url;
}

async function post(
  base: string,
  body: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<WebReply> {
  const res = await fetch(`${base}/api/chat`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  return (await res.json()) as WebReply;
}

const answered = (replies: WebReply[]) => replies.filter((r) => r.kind === 'results').length;
const refused = (replies: WebReply[]) =>
  replies.filter((r) => r.kind === 'notice' && /searching fast/.test(r.text)).length;

describe('per-address rate limit (web chat)', () => {
  it('40 cookie-less searches from one address: the default limit (30 a minute) refuses the rest', async () => {
    const base = await startWeb();
    const replies: WebReply[] = [];
    const started = Date.now();
    for (let i = 0; i < 40; i++) replies.push(await post(base, { text: `cat ${i}` }));
    // The bucket refills one search every 2 s while the loop runs (30 a minute).
    const refilled = Math.floor((Date.now() - started) / 2000);
    expect(answered(replies)).toBeGreaterThanOrEqual(30);
    expect(answered(replies)).toBeLessThanOrEqual(30 + refilled);
    expect(refused(replies)).toBe(40 - answered(replies));
  });

  it('a forged X-Forwarded-For buys nothing unless TRUST_PROXY is set', async () => {
    const base = await startWeb({ RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '3' });
    const forged = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => post(base, { text: 'cat' }, { 'x-forwarded-for': `198.51.100.${i}` })),
    );
    expect(answered(forged)).toBe(3);
  });

  it('behind a trusted proxy each forwarded client has its own bucket', async () => {
    const base = await startWeb({ RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '2', TRUST_PROXY: '1' });
    const from = (client: string) => post(base, { text: 'dog' }, { 'x-forwarded-for': client });
    const a = [await from('203.0.113.1'), await from('203.0.113.1'), await from('203.0.113.1')];
    const b = [await from('203.0.113.2'), await from('203.0.113.2')];
    expect(answered(a)).toBe(2);
    expect(refused(a)).toBe(1);
    expect(answered(b)).toBe(2);
    // A client prepending its own entry does not escape: with one hop, the proxy's entry counts.
    expect(answered([await from('192.0.2.99, 203.0.113.1')])).toBe(0);
  });
});

describe('request ids are per conversation (web chat)', () => {
  it('two sessions posting the same requestId each get their own query and grid', async () => {
    const base = await startWeb();
    const a = await post(
      base,
      { text: 'red car', requestId: 'client-chosen-1' },
      { cookie: 'imagesearch_session=sessionAAAAAAAAAAAA' },
    );
    const b = await post(
      base,
      { text: 'blue boat', requestId: 'client-chosen-1' },
      { cookie: 'imagesearch_session=sessionBBBBBBBBBBBB' },
    );
    expect(a.kind === 'results' && a.query).toBe('red car');
    expect(b.kind === 'results' && b.query).toBe('blue boat');
    expect(a.kind === 'results' && b.kind === 'results' && a.gridUrl !== b.gridUrl).toBe(true);
  });
});

describe('client address from forwarded headers', () => {
  const trust = (value: string, header: ProxyTrust['header'] = 'x-forwarded-for'): ProxyTrust => {
    const parsed = parseTrustProxy(value);
    if (!parsed) throw new Error(`bad TRUST_PROXY ${value}`);
    return { trust: parsed, header };
  };

  it('reads the socket only when no proxy is trusted', () => {
    expect(clientAddress('::ffff:10.0.0.5', { 'x-forwarded-for': '1.2.3.4' }, trust(''))).toBe('10.0.0.5');
    expect(clientAddress('10.0.0.5', { 'x-forwarded-for': '1.2.3.4' }, trust('0'))).toBe('10.0.0.5');
  });

  it('hop counts take the address that many hops from the socket', () => {
    const headers = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.0.0.2' };
    expect(clientAddress('10.0.0.1', headers, trust('1'))).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.1', headers, trust('2'))).toBe('203.0.113.9');
    // More hops than entries: the leftmost is all we have.
    expect(clientAddress('10.0.0.1', { 'x-forwarded-for': '203.0.113.9' }, trust('5'))).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.1', {}, trust('1'))).toBe('10.0.0.1');
  });

  it('address lists walk left past trusted proxies only', () => {
    const headers = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.2.3' };
    expect(clientAddress('127.0.0.1', headers, trust('127.0.0.1, 10.0.0.0/8'))).toBe('203.0.113.9');
    // A socket that is not a trusted proxy is the client, whatever it forwards.
    expect(clientAddress('198.51.100.7', headers, trust('10.0.0.0/8'))).toBe('198.51.100.7');
    expect(clientAddress('::1', { 'x-forwarded-for': '2001:db8::5' }, trust('::1/128'))).toBe('2001:db8::5');
  });

  it('reads RFC 7239 Forwarded when told to, and falls back past entries that are not addresses', () => {
    const headers = {
      forwarded: 'for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"',
      'x-forwarded-for': '6.6.6.6',
    };
    expect(clientAddress('10.0.0.1', headers, trust('1', 'forwarded'))).toBe('2001:db8:cafe::17');
    expect(clientAddress('10.0.0.1', headers, trust('2', 'forwarded'))).toBe('192.0.2.60');
    expect(clientAddress('10.0.0.1', { forwarded: 'for=unknown' }, trust('1', 'forwarded'))).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', { 'x-forwarded-for': '192.0.2.1:8080' }, trust('1'))).toBe('192.0.2.1');
  });

  it('TRUST_PROXY is validated when the configuration loads, without echoing the value', () => {
    for (const bad of ['yes please', '11', '10.0.0.0/33', '10.0.0.1/8/2', 'example.com']) {
      expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY: must be/);
      try {
        loadConfig({ TRUST_PROXY: bad });
      } catch (e) {
        expect(String(e)).not.toContain(bad);
      }
    }
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8,::1' }).proxyTrust.trust).toEqual({
      kind: 'addresses',
      ranges: ['10.0.0.0/8', '::1'],
    });
    expect(loadConfig({}).rateLimitPerAddressPerMinute).toBe(30);
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: '100' }).rateLimitPerAddressPerMinute).toBe(150);
  });
});
