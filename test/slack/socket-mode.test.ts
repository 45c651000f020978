import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackAdapter, type SlackAdapter } from '../../adapters/slack/slack-adapter.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { type SlackPeer, startSlackPeer } from '../peers/slack-peer.ts';
import { type SlackSocketPeer, startSlackSocketPeer } from '../peers/slack-socket-peer.ts';
import { RecordingHandler } from '../support/recording-handler.ts';
import { BOT_TOKEN, slackFixture } from './harness.ts';

const APP_TOKEN = 'xapp-1-A111-imagesearch-test';

describe('slack Socket Mode (SLACK_APP_TOKEN set)', () => {
  let socket: SlackSocketPeer;
  let peer: SlackPeer;
  let adapter: SlackAdapter;
  const handler = new RecordingHandler();

  beforeAll(async () => {
    socket = await startSlackSocketPeer();
    peer = await startSlackPeer({ botToken: BOT_TOKEN, appToken: APP_TOKEN, socketUrl: socket.url });
    adapter = createSlackAdapter({
      config: { botToken: BOT_TOKEN, appToken: APP_TOKEN, apiUrl: peer.apiUrl },
      handler,
      logger: silentLogger(),
    });
    await adapter.start();
    await socket.connected;
  });
  afterAll(async () => {
    await adapter.stop();
    await socket.close();
    await peer.close();
  });

  it('has no HTTP route and connects with the app token', () => {
    expect(adapter.mode).toBe('socket');
    expect(adapter.routes).toEqual([]);
    expect(peer.callsOf('apps.connections.open')[0]?.token).toBe(APP_TOKEN);
  });

  it('acks a slash command over the socket with the ephemeral note, then posts the result thread', async () => {
    const command = {
      ...slackFixture<Record<string, string>>('slash_command_bolt_python.json'),
      command: '/imagesearch',
      text: 'snowy mountains',
      trigger_id: 'socket.trigger.1',
      response_url: peer.responseUrl('socket-1'),
    };
    const { ack, ms } = await socket.send('slash_commands', command);
    expect(ms).toBeLessThan(3000);
    expect(ack.payload?.response_type).toBe('ephemeral');
    expect(String(ack.payload?.text)).toContain('Searching for');
    await peer.waitFor(() => peer.messages.find((m) => m.kind === 'update'));
    const root = peer.messages.find((m) => m.kind === 'message')!;
    expect(handler.requests[0]?.conversationId).toBe(`slack:T111:C111:${root.ts}`);
    const update = peer.messages.find((m) => m.kind === 'update')!;
    expect(update.ts).toBe(root.ts);
    const image = (update.blocks as { type: string; slack_file?: { id: string } }[]).find(
      (b) => b.type === 'image',
    );
    expect(image?.slack_file?.id).toBe([...peer.uploads.values()][0]?.fileId);
  });

  it('answers a retried events_api envelope once', async () => {
    const env = slackFixture<Record<string, unknown> & { event: Record<string, unknown> }>(
      'event_app_mention_bolt_python.json',
    );
    const mention = {
      ...env,
      event_id: 'EvSocket1',
      event: { ...env.event, text: `<@${peer.botUserId}> tulips`, ts: '1700000500.000100' },
    };
    const before = handler.requests.length;
    await socket.send('events_api', mention);
    await socket.send('events_api', mention, { retryAttempt: 1 });
    await peer.waitFor(() => adapter.inflight === 0 && handler.requests.length > before);
    await new Promise((r) => setTimeout(r, 50));
    expect(handler.requests.length - before).toBe(1);
    expect(handler.requests.at(-1)?.text).toBe('tulips');
  });
});
