/**
 * Exactly one answer per request: replayed dispatches, a forced reconnect + resume, rate limits.
 * Also failures (friendly text, details in the log) and the Message Content mode.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSearchError } from '../../src/core/errors.ts';
import { buildUserMessage } from '../peers/discord-payloads.ts';
import type { RecordedCall } from '../peers/discord-peer.ts';
import { callsSince, type Harness, sleep, startHarness } from './harness.ts';

const isReplyTo = (id: string) => (c: RecordedCall) =>
  c.method === 'POST' &&
  (c.body as { message_reference?: { message_id: string } } | undefined)?.message_reference?.message_id ===
    id;

describe('Discord delivery guarantees', () => {
  let h: Harness;
  const logs: string[] = [];
  beforeAll(async () => {
    h = await startHarness({ logs });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers a replayed dispatch (same sequence, same message id) once', async () => {
    const { peer, handler } = h;
    const before = handler.requests.length;
    const msg = buildUserMessage({
      guildId: peer.guildId,
      channelId: peer.channelId,
      content: 'red bicycles',
      mention: peer.botUser,
    });
    const s = peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    peer.gateway.redeliver(s, peer.guildId);
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    await peer.waitForCall((c) => c.method === 'PATCH' && c.multipart && peer.calls.some(isReplyTo(msg.id)));
    await sleep(300);
    expect(peer.calls.filter(isReplyTo(msg.id))).toHaveLength(1);
    expect(handler.requests.length - before).toBe(1);
  });

  it('answers once across a forced reconnect and resume that replays the message', async () => {
    const { peer, handler, adapter } = h;
    const before = handler.requests.length;
    const identifies = peer.gateway.identifies.length;
    const msg = buildUserMessage({
      guildId: peer.guildId,
      channelId: peer.channelId,
      content: 'blue boats',
      mention: peer.botUser,
    });
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    await peer.gateway.forceReconnect();
    // Discord may send an event again after a resume; the adapter must not answer twice.
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    await peer.waitForCall(isReplyTo(msg.id));
    await sleep(400);
    expect(peer.gateway.resumes.length).toBeGreaterThan(0);
    expect(peer.gateway.identifies.length).toBe(identifies);
    expect(peer.gateway.connections.at(-1)!.url).toMatch(/^\/gateway-resume\?v=10/);
    expect(peer.calls.filter(isReplyTo(msg.id))).toHaveLength(1);
    expect(handler.requests.length - before).toBe(1);
    expect(adapter.client.isReady()).toBe(true);
  });

  it('waits out a 429 and still answers (rate limits respected)', async () => {
    const { peer } = h;
    peer.rateLimitNext(
      'POST',
      new RegExp(`^/channels/${peer.channelId}/messages$`),
      'rest_429_user_rate_limit.json',
      0.5,
    );
    const msg = buildUserMessage({
      guildId: peer.guildId,
      channelId: peer.channelId,
      content: 'green hills',
      mention: peer.botUser,
    });
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    const ok = await peer.waitForCall((c) => isReplyTo(msg.id)(c) && c.status === 200);
    const limited = peer.calls.filter((c) => isReplyTo(msg.id)(c) && c.status === 429);
    expect(limited).toHaveLength(1);
    expect(ok.at - limited[0]!.at).toBeGreaterThanOrEqual(450);
    const edit = await peer.waitForCall((c) => c.method === 'PATCH' && c.at >= ok.at && c.files.length === 1);
    expect((await sharp(edit.files[0]!.bytes).metadata()).format).toBe('jpeg');
  });

  it('turns a failing search into a short friendly message in the thread', async () => {
    const { peer, handler } = h;
    handler.failWith = new Error('onnxruntime exploded: secret stack details');
    try {
      const msg = buildUserMessage({
        guildId: peer.guildId,
        channelId: peer.channelId,
        content: 'sunsets',
        mention: peer.botUser,
      });
      peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
      const placeholder = await peer.waitForCall(isReplyTo(msg.id));
      const placeholderId = peer.messages.size
        ? [...peer.messages.values()].find((m) => m.message_reference?.message_id === msg.id)!.id
        : '';
      const edit = await peer.waitForCall(
        (c) => c.method === 'PATCH' && c.path.endsWith(`/messages/${placeholderId}`),
      );
      const content = (edit.body as { content: string }).content;
      expect(content).toBe('Something went wrong on our side. Please try again.');
      expect(content).not.toContain('onnxruntime');
      expect(edit.files).toHaveLength(0);
      expect(placeholder.status).toBe(200);

      // In the thread: the failure is posted there.
      handler.failWith = new ImageSearchError('busy', 'I am busy right now, try again in a moment.');
      const from = peer.calls.length;
      const inThread = buildUserMessage({
        guildId: peer.guildId,
        channelId: placeholderId,
        content: 'again',
        mention: peer.botUser,
      });
      peer.gateway.dispatch('MESSAGE_CREATE', inThread, peer.guildId);
      const post = await peer.waitForCall(
        (c) =>
          peer.calls.indexOf(c) >= from &&
          c.method === 'POST' &&
          c.path === `/channels/${placeholderId}/messages`,
      );
      expect((post.body as { content: string }).content).toBe('I am busy right now, try again in a moment.');
      // Details reach the log, the token never does.
      expect(
        logs.some((l) => l.includes('onnxruntime exploded') && l.includes('discord request failed')),
      ).toBe(true);
      expect(logs.some((l) => l.includes(peer.token))).toBe(false);
    } finally {
      handler.failWith = undefined;
    }
  });
});

describe('Discord with the Message Content intent', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ messageContent: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('asks for the intent and refines on plain messages in its result thread', async () => {
    const { peer, handler } = h;
    expect(Number(peer.gateway.identifies[0]!.intents) & (1 << 15)).toBe(1 << 15);
    const msg = buildUserMessage({
      guildId: peer.guildId,
      channelId: peer.channelId,
      content: 'mountain lakes',
      mention: peer.botUser,
    });
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    await peer.waitForCall((c) => c.method === 'PATCH' && c.multipart);
    const threadId = [...peer.channels.values()].find((c) => c.type === 11)!.id;

    const from = peer.calls.length;
    const plain = buildUserMessage({ guildId: peer.guildId, channelId: threadId, content: 'at sunrise' });
    peer.gateway.dispatch('MESSAGE_CREATE', plain, peer.guildId);
    const post = await peer.waitForCall(
      (c) =>
        peer.calls.indexOf(c) >= from && c.method === 'POST' && c.path === `/channels/${threadId}/messages`,
    );
    expect(post.files).toHaveLength(1);
    expect(handler.requests.at(-1)).toMatchObject({
      text: 'at sunrise',
      followUp: true,
      conversationId: `discord:${peer.guildId}:${threadId}`,
    });

    // Plain messages outside its threads still need a mention.
    const before = handler.requests.length;
    const from2 = peer.calls.length;
    peer.gateway.dispatch(
      'MESSAGE_CREATE',
      buildUserMessage({ guildId: peer.guildId, channelId: peer.channelId, content: 'hello all' }),
      peer.guildId,
    );
    await sleep(300);
    expect(handler.requests.length).toBe(before);
    expect(callsSince(peer, from2, (c) => c.method === 'POST')).toHaveLength(0);
  });
});
