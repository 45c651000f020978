/**
 * Per-conversation order through discord.js and the local Discord peer: two quick refinements in
 * one result thread are answered in the order they were typed, although the first takes longer to
 * search (the one request flow queues a conversation's requests, adapters/kit/request-flow.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUserMessage } from '../peers/discord-payloads.ts';
import { callsSince, type Harness, startHarness } from './harness.ts';

describe('Discord: one conversation, answered in order', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('two quick refinements in one thread are answered in the order they were typed', async () => {
    const { peer, handler } = h;
    const mention = (channelId: string, content: string) =>
      buildUserMessage({ guildId: peer.guildId, channelId, content, mention: peer.botUser });
    peer.gateway.dispatch('MESSAGE_CREATE', mention(peer.channelId, 'cats'), peer.guildId);
    const edit = await peer.waitForCall((c) => c.method === 'PATCH' && c.multipart);
    const threadId = edit.path.split('/').pop()!;

    // The first refinement searches slowly, the second at once: without per-thread order the
    // second answer would be posted first.
    handler.delayFor = (r) => (r.text === 'first refinement' ? 300 : 0);
    const from = peer.calls.length;
    peer.gateway.dispatch('MESSAGE_CREATE', mention(threadId, 'first refinement'), peer.guildId);
    peer.gateway.dispatch('MESSAGE_CREATE', mention(threadId, 'second refinement'), peer.guildId);
    const inThread = (c: { method: string; path: string }) =>
      c.method === 'POST' && c.path === `/channels/${threadId}/messages`;
    await peer.waitForCall((c) => callsSince(peer, from, inThread).length === 2 && inThread(c));
    const answers = callsSince(peer, from, inThread).map((c) => (c.body as { content?: string }).content);
    expect(answers).toEqual([
      'Here is what I found for “first refinement”.',
      'Here is what I found for “second refinement”.',
    ]);
    expect(handler.requests.slice(-2).map((r) => r.conversationId)).toEqual([
      `discord:${peer.guildId}:${threadId}`,
      `discord:${peer.guildId}:${threadId}`,
    ]);
    handler.delayFor = undefined;
  });
});
