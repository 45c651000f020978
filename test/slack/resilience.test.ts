import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../../adapters/slack/slack-adapter.ts';
import { createLogger, silentLogger } from '../../src/util/logger.ts';
import { startSlackPeer } from '../peers/slack-peer.ts';
import { postSigned } from '../peers/slack-signing.ts';
import { RecordingHandler } from '../support/recording-handler.ts';
import { BOT_TOKEN, SIGNING_SECRET, settled, slackFixture, startHarness } from './harness.ts';

describe('slack adapter resilience', () => {
  it('rides out a 429 from chat.update (Retry-After) and still delivers the result', async () => {
    const h = await startHarness();
    try {
      h.peer.rateLimitNext('chat.update', 1);
      await h.command('lanterns');
      await settled(h, 10_000);
      const updates = h.peer.callsOf('chat.update');
      expect(updates.length).toBe(2);
      expect(updates[1]!.at - updates[0]!.at).toBeGreaterThanOrEqual(900);
      expect(h.peer.messages.find((m) => m.kind === 'update')?.blocks).toBeDefined();
    } finally {
      await h.close();
    }
  });

  it('stop() finishes replies already under way', async () => {
    const h = await startHarness({ delayMs: 300 });
    let stopped = false;
    try {
      await h.command('owls');
      await h.peer.waitFor(() => h.handler.requests.length === 1);
      await h.adapter.stop();
      stopped = true;
      expect(h.peer.messages.some((m) => m.kind === 'update')).toBe(true);
      expect(h.adapter.inflight).toBe(0);
    } finally {
      if (stopped) await h.peer.close();
      else await h.close();
    }
  });

  it('mounts on a shared server: only POST /slack/events, 503 before start and after stop', async () => {
    const peer = await startSlackPeer({ botToken: BOT_TOKEN });
    const handler = new RecordingHandler();
    const adapter = createSlackAdapter({
      config: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: peer.apiUrl },
      handler,
      logger: silentLogger(),
    });
    expect(adapter.routes).toHaveLength(1);
    const server = createServer((req, res) => {
      void (async () => {
        for (const route of adapter.routes) if (await route(req, res)) return;
        res.writeHead(200, { 'content-type': 'text/plain' }).end('web chat');
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const body = new URLSearchParams({
      ...slackFixture<Record<string, string>>('slash_command_bolt_python.json'),
      command: '/imagesearch',
      text: 'harbours',
      response_url: peer.responseUrl('mounted'),
    }).toString();
    try {
      expect((await postSigned(`${base}/slack/events`, body, { secret: SIGNING_SECRET })).status).toBe(503);
      await adapter.start();
      const ok = await postSigned(`${base}/slack/events?x=1`, body, { secret: SIGNING_SECRET });
      expect(ok.status).toBe(200);
      expect(await (await fetch(`${base}/`)).text()).toBe('web chat');
      expect(await (await fetch(`${base}/slack/events`)).text()).toBe('web chat');
      await peer.waitFor(() => peer.messages.find((m) => m.kind === 'update'));
      await adapter.stop();
      expect((await postSigned(`${base}/slack/events`, body, { secret: SIGNING_SECRET })).status).toBe(503);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await peer.close();
    }
  });

  it('never writes the bot token or the signing secret to the log, even when things fail', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    // The app's own logger factory: its redaction and scrubbing are what this test checks.
    const logger = createLogger({ level: 'debug', destination: sink });
    const h = await startHarness({}, logger);
    try {
      h.peer.failNext('chat.postMessage', 'not_in_channel');
      await h.command('first');
      await settled(h);
      // An upstream failure that quotes the token and carries the request config, as HTTP client
      // errors do (config.headers.Authorization) — only the logger stands between it and the log.
      const leaky = Object.assign(new Error(`upstream refused token ${BOT_TOKEN}`), {
        config: { headers: { Authorization: `Bearer ${BOT_TOKEN}` }, slackSigningSecret: SIGNING_SECRET },
      });
      h.handler.options = { fail: leaky };
      await h.command('second');
      await settled(h);
      h.peer.failNext('files.completeUploadExternal', 'internal_error');
      h.handler.options = {};
      await h.command('third');
      await settled(h);
      await h.post('text=x', { signature: 'v0=deadbeef' });
    } finally {
      await h.close();
    }
    const log = lines.join('');
    expect(log).toContain('slack request failed');
    // The leaky error was logged (its type and the censored message), just not its secrets.
    expect(log).toContain('upstream refused token [redacted]');
    expect(log).not.toContain(BOT_TOKEN);
    expect(log).not.toContain(SIGNING_SECRET);
  });
});
