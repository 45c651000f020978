import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerCommands } from '../../adapters/discord/commands.ts';
import { buildButtonInteraction, buildSlashInteraction } from '../peers/discord-payloads.ts';
import type { RecordedCall } from '../peers/discord-peer.ts';
import { type Harness, sleep, startHarness } from './harness.ts';

const callbackOf = (id: string) => (c: RecordedCall) =>
  c.method === 'POST' && c.path.startsWith(`/interactions/${id}/`);

describe('Discord interactions', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('/imagesearch: deferred within 3 s, thread on the reply, reply edited with the grid and buttons', async () => {
    const { peer, handler } = h;
    const interaction = buildSlashInteraction({
      applicationId: peer.applicationId,
      guildId: peer.guildId,
      channelId: peer.channelId,
      query: 'cats on a sofa',
    });
    peer.expectInteraction(interaction);
    // The search is held until the ack is seen: an ack that waited for the search never comes.
    const release = handler.hold();
    const sentAt = Date.now();
    peer.gateway.dispatch('INTERACTION_CREATE', interaction, peer.guildId);

    const callback = await peer.waitForCall(callbackOf(interaction.id));
    release();
    expect(callback.at - sentAt).toBeLessThan(3000);
    expect((callback.body as { type: number }).type).toBe(5);
    expect(callback.query.with_response).toBe('true');

    const edit = await peer.waitForCall(
      (c) => c.method === 'PATCH' && c.path.endsWith('/messages/@original'),
      15_000,
    );
    expect(edit.path).toBe(`/webhooks/${peer.applicationId}/${interaction.token}/messages/@original`);
    expect(edit.multipart).toBe(true);
    expect((await sharp(edit.files[0]!.bytes).metadata()).format).toBe('jpeg');
    const components = (edit.body as { components: { components: { custom_id: string }[] }[] }).components;
    expect(components.flatMap((r) => r.components.map((b) => b.custom_id))).toContain('is:reroll');

    const original = [...peer.messages.values()].find(
      (m) => m.attachments.length > 0 && m.channel_id === peer.channelId,
    )!;
    const thread = peer.calls.find(
      (c) => c.path === `/channels/${peer.channelId}/messages/${original.id}/threads`,
    );
    expect(thread).toBeDefined();
    expect(handler.requests.at(-1)).toMatchObject({
      conversationId: `discord:${peer.guildId}:${original.id}`,
      text: 'cats on a sofa',
      requestId: interaction.id,
    });
  });

  it('a button on the grid: acked within 3 s (deferUpdate), result posted in the thread; replays answered once', async () => {
    const { peer, handler } = h;
    const grid = [...peer.messages.values()].find(
      (m) => m.attachments.length > 0 && m.channel_id === peer.channelId,
    )!;
    const before = handler.requests.length;
    const click = buildButtonInteraction({
      applicationId: peer.applicationId,
      guildId: peer.guildId,
      channelId: peer.channelId,
      customId: 'is:reroll',
      message: grid,
    });
    peer.expectInteraction(click);
    const release = handler.hold();
    const sentAt = Date.now();
    const s = peer.gateway.dispatch('INTERACTION_CREATE', click, peer.guildId);
    peer.gateway.redeliver(s, peer.guildId);

    const callback = await peer.waitForCall(callbackOf(click.id));
    release();
    expect(callback.at - sentAt).toBeLessThan(3000);
    expect((callback.body as { type: number }).type).toBe(6);

    const post = await peer.waitForCall(
      (c) => c.method === 'POST' && c.path === `/channels/${grid.id}/messages`,
      15_000,
    );
    expect(post.files).toHaveLength(1);
    await sleep(200);
    expect(peer.calls.filter(callbackOf(click.id))).toHaveLength(1);
    expect(handler.requests.length - before).toBe(1);
    expect(handler.requests.at(-1)).toMatchObject({
      conversationId: `discord:${peer.guildId}:${grid.id}`,
      action: { type: 'next' },
      followUp: true,
    });
  });

  it('a button inside the thread keys the conversation by the thread', async () => {
    const { peer, handler } = h;
    const threadId = [...peer.channels.values()].find((c) => c.type === 11)!.id;
    const inThread = [...peer.messages.values()].find(
      (m) => m.channel_id === threadId && m.attachments.length > 0,
    )!;
    const click = buildButtonInteraction({
      applicationId: peer.applicationId,
      guildId: peer.guildId,
      channelId: threadId,
      channelType: 11,
      customId: 'is:open:2',
      message: inThread,
    });
    peer.expectInteraction(click);
    const from = peer.calls.length;
    peer.gateway.dispatch('INTERACTION_CREATE', click, peer.guildId);
    const post = await peer.waitForCall(
      (c) =>
        peer.calls.indexOf(c) >= from && c.method === 'POST' && c.path === `/channels/${threadId}/messages`,
      15_000,
    );
    expect(post.files[0]!.filename).toBe('photo-2.jpg');
    expect(handler.requests.at(-1)).toMatchObject({
      conversationId: `discord:${peer.guildId}:${threadId}`,
      action: { type: 'open', n: 2 },
    });
  });

  it('registers /imagesearch per guild and globally through DISCORD_API_URL', async () => {
    const { peer } = h;
    const guild = await registerCommands({
      token: peer.token,
      applicationId: peer.applicationId,
      apiUrl: peer.apiUrl,
      guildId: peer.guildId,
    });
    expect(guild).toMatchObject({ scope: 'guild', names: ['imagesearch'] });
    const global = await registerCommands({
      token: peer.token,
      applicationId: peer.applicationId,
      apiUrl: peer.apiUrl,
    });
    expect(global.scope).toBe('global');
    const puts = peer.calls.filter((c) => c.method === 'PUT');
    expect(puts.map((c) => c.path)).toEqual([
      `/applications/${peer.applicationId}/guilds/${peer.guildId}/commands`,
      `/applications/${peer.applicationId}/commands`,
    ]);
    expect(puts.every((c) => c.authorized)).toBe(true);
    const [command] = puts[0]!.body as { name: string; options: { name: string; required: boolean }[] }[];
    expect(command!.options.find((o) => o.name === 'query')?.required).toBe(true);
  });
});
