import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUserMessage, humanUser } from '../peers/discord-payloads.ts';
import { callsSince, type Harness, sleep, startHarness } from './harness.ts';

interface MessageBody {
  content?: string;
  components?: { type: number; components: { custom_id?: string; label?: string }[] }[];
  message_reference?: { message_id: string };
  allowed_mentions?: { parse: string[] };
}

describe('Discord mentions (no Message Content intent)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('connects through GET /gateway/bot, identifies with Guilds + GuildMessages only', () => {
    expect(h.peer.calls.some((c) => c.path === '/gateway/bot')).toBe(true);
    const identify = h.peer.gateway.identifies[0]!;
    expect(identify.intents).toBe((1 << 0) | (1 << 9));
    expect(identify.token).toBe('[redacted]');
    expect(h.peer.gateway.connections[0]!.url).toContain('v=10');
    expect(h.peer.gateway.connections[0]!.url).not.toContain('compress');
  });

  it('answers a mention with a reply, a thread and an uploaded JPEG grid with buttons', async () => {
    const { peer, handler } = h;
    const from = peer.calls.length;
    const msg = buildUserMessage({
      guildId: peer.guildId,
      channelId: peer.channelId,
      content: 'cats on a sofa <:party_cat:123456789012345678>',
      mention: peer.botUser,
    });
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);

    const uploadsBefore = h.uploads.length;
    const edit = await peer.waitForCall((c) => c.method === 'PATCH' && c.multipart && c.at >= 0);
    const posted = callsSince(
      peer,
      from,
      (c) => c.method === 'POST' && c.path === `/channels/${peer.channelId}/messages`,
    );
    expect(posted).toHaveLength(1);
    const placeholder = posted[0]!;
    expect((placeholder.body as MessageBody).message_reference?.message_id).toBe(msg.id);
    expect((placeholder.body as MessageBody).allowed_mentions?.parse).toEqual([]);
    const placeholderId = edit.path.split('/').pop()!;

    const thread = callsSince(
      peer,
      from,
      (c) => c.path === `/channels/${peer.channelId}/messages/${placeholderId}/threads`,
    );
    expect(thread).toHaveLength(1);
    expect((thread[0]!.body as { name: string }).name).toBe('cats on a sofa party cat');

    expect(edit.files).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.uploads.slice(uploadsBefore)).toEqual([{ seconds: expect.any(Number), ok: true }]);
    const meta = await sharp(edit.files[0]!.bytes).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBe(512);
    const body = edit.body as MessageBody;
    const ids = body.components!.flatMap((r) => r.components.map((b) => b.custom_id));
    expect(ids).toEqual([
      'is:open:1',
      'is:open:2',
      'is:open:3',
      'is:open:4',
      'is:more:1',
      'is:more:2',
      'is:more:3',
      'is:more:4',
      'is:reroll',
      'is:restart',
    ]);
    expect(body.components!.every((r) => r.components.length <= 5)).toBe(true);

    expect(handler.requests).toHaveLength(1);
    expect(handler.requests[0]).toMatchObject({
      platform: 'discord',
      conversationId: `discord:${peer.guildId}:${placeholderId}`,
      text: 'cats on a sofa party cat',
      followUp: false,
      requestId: msg.id,
      userId: `discord:${msg.author.id}`,
    });
  });

  it('refines on a mention inside the result thread', async () => {
    const { peer, handler } = h;
    const threadId = [...peer.channels.values()].find((c) => c.type === 11)!.id;
    const before = handler.requests.length;
    const from = peer.calls.length;
    const msg = buildUserMessage({
      guildId: peer.guildId,
      channelId: threadId,
      content: 'only black cats',
      mention: peer.botUser,
    });
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    const post = await peer.waitForCall(
      (c) =>
        peer.calls.indexOf(c) >= from && c.method === 'POST' && c.path === `/channels/${threadId}/messages`,
    );
    expect(post.multipart).toBe(true);
    expect((await sharp(post.files[0]!.bytes).metadata()).format).toBe('jpeg');
    expect(handler.requests[before]).toMatchObject({
      conversationId: `discord:${peer.guildId}:${threadId}`,
      text: 'only black cats',
      followUp: true,
    });
  });

  it('ignores a plain thread message: without the intent its content arrives empty', async () => {
    const { peer, handler } = h;
    const threadId = [...peer.channels.values()].find((c) => c.type === 11)!.id;
    const before = handler.requests.length;
    const from = peer.calls.length;
    const msg = buildUserMessage({ guildId: peer.guildId, channelId: threadId, content: 'make them orange' });
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    await sleep(300);
    expect(handler.requests.length).toBe(before);
    expect(callsSince(peer, from, (c) => c.method === 'POST' && c.path.includes('/messages'))).toHaveLength(
      0,
    );
  });

  it('ignores bots, including itself', async () => {
    const { peer, handler } = h;
    const before = handler.requests.length;
    const from = peer.calls.length;
    const other = humanUser({ id: '70000000000000001', username: 'otherbot', bot: true });
    peer.gateway.dispatch(
      'MESSAGE_CREATE',
      buildUserMessage({
        guildId: peer.guildId,
        channelId: peer.channelId,
        content: 'dogs',
        mention: peer.botUser,
        author: other,
      }),
      peer.guildId,
    );
    peer.gateway.dispatch(
      'MESSAGE_CREATE',
      buildUserMessage({
        guildId: peer.guildId,
        channelId: peer.channelId,
        content: 'dogs',
        mention: peer.botUser,
        author: peer.botUser,
      }),
      peer.guildId,
    );
    await sleep(300);
    expect(handler.requests.length).toBe(before);
    expect(callsSince(peer, from, (c) => c.method !== 'GET')).toHaveLength(0);
  });

  it('answers a bare mention with a short hint', async () => {
    const { peer, handler } = h;
    const before = handler.requests.length;
    const msg = buildUserMessage({
      guildId: peer.guildId,
      channelId: peer.channelId,
      content: '',
      mention: peer.botUser,
    });
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    const post = await peer.waitForCall(
      (c) =>
        c.method === 'POST' && (c.body as MessageBody | undefined)?.message_reference?.message_id === msg.id,
    );
    expect((post.body as MessageBody).content).toMatch(/Tell me what to look for/);
    expect(handler.requests.length).toBe(before);
  });
});
