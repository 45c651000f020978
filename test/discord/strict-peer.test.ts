/**
 * The Discord peer refuses what Discord refuses (driven by discord.js's own REST client and a
 * plain WebSocket), and the adapter behaves against it: one callback per interaction, no empty or
 * oversized messages, a clear error when the token or the intents are refused at the gateway.
 */
import { DiscordAPIError, REST, Routes } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createDiscordAdapter } from '../../adapters/discord/discord-adapter.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { buildSlashInteraction } from '../peers/discord-payloads.ts';
import { DiscordPeer } from '../peers/discord-peer.ts';
import { RecordingHandler } from '../support/discord-handler.ts';
import { type Harness, startHarness } from './harness.ts';

/** The Discord error a REST call ended with (code, status and form errors), or 'ok'. */
async function refusal(
  p: Promise<unknown>,
): Promise<{ code: number | string; status: number; raw: unknown } | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (!(e instanceof DiscordAPIError)) throw e;
    return { code: e.code, status: e.status, raw: e.rawError };
  }
}

const button = (customId: string, label = 'Open') => ({ type: 2, style: 2, custom_id: customId, label });
const row = (...buttons: unknown[]) => ({ type: 1, components: buttons });

describe('discord peer: REST refuses what Discord refuses', () => {
  let peer: DiscordPeer;
  let rest: REST;
  beforeAll(async () => {
    peer = await DiscordPeer.start();
    rest = new REST({ api: peer.apiUrl, retries: 0 }).setToken(peer.token);
  });
  afterAll(async () => {
    await peer.close();
  });
  const send = (body: unknown) => refusal(rest.post(Routes.channelMessages(peer.channelId), { body }));

  it('an empty message → 50006 Cannot send an empty message; whitespace is empty too', async () => {
    for (const body of [{ content: '' }, { content: '   ' }, {}, { content: '', components: [] }]) {
      expect(await send(body)).toMatchObject({ code: 50006, status: 400 });
    }
    expect(await send({ content: 'hello' })).toBe('ok');
    expect(await send({ components: [row(button('x'))] })).toBe('ok');
  });

  it('content over 2000 characters → 50035 with the form error on content', async () => {
    expect(await send({ content: 'x'.repeat(2000) })).toBe('ok');
    const r = await send({ content: 'x'.repeat(2001) });
    expect(r).toMatchObject({ code: 50035, status: 400 });
    expect(r !== 'ok' && r.raw).toMatchObject({
      message: 'Invalid Form Body',
      errors: {
        content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] },
      },
    });
  });

  it.each([
    [
      'six action rows',
      Array.from({ length: 6 }, (_, i) => row(button(`b${i}`))),
      {
        components: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 5 or fewer in length.' }] },
      },
    ],
    [
      'six buttons in a row',
      [row(...Array.from({ length: 6 }, (_, i) => button(`b${i}`)))],
      { components: { 0: { components: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH' }] } } } },
    ],
    [
      'an empty row',
      [row()],
      { components: { 0: { components: { _errors: [{ message: 'Must be between 1 and 5 in length.' }] } } } },
    ],
    [
      'a custom_id of 101 characters',
      [row(button('c'.repeat(101)))],
      {
        components: {
          0: {
            components: { 0: { custom_id: { _errors: [{ message: 'Must be 100 or fewer in length.' }] } } },
          },
        },
      },
    ],
    [
      'a label of 81 characters',
      [row(button('ok', 'l'.repeat(81)))],
      {
        components: {
          0: { components: { 0: { label: { _errors: [{ message: 'Must be 80 or fewer in length.' }] } } } },
        },
      },
    ],
    [
      'the same custom_id twice',
      [row(button('same')), row(button('same'))],
      {
        components: {
          1: { components: { 0: { custom_id: { _errors: [{ code: 'COMPONENT_CUSTOM_ID_DUPLICATED' }] } } } },
        },
      },
    ],
    [
      'a button without custom_id',
      [row({ type: 2, style: 1, label: 'x' })],
      {
        components: {
          0: { components: { 0: { custom_id: { _errors: [{ code: 'BASE_TYPE_REQUIRED' }] } } } },
        },
      },
    ],
  ])('%s → 50035 Invalid Form Body', async (_name, components, errors) => {
    const r = await send({ content: 'x', components });
    expect(r).toMatchObject({ code: 50035, status: 400 });
    expect(r !== 'ok' && r.raw).toMatchObject({ errors });
  });

  it('limits exactly: 5 rows of 5, 100-character ids, 80-character labels → accepted; a link button needs no id', async () => {
    const rows = Array.from({ length: 5 }, (_, r) =>
      row(...Array.from({ length: 5 }, (_, b) => button(`${r}${b}`.padEnd(100, 'x'), 'l'.repeat(80)))),
    );
    expect(await send({ components: rows })).toBe('ok');
    expect(
      await send({ components: [row({ type: 2, style: 5, label: 'Open', url: 'https://unsplash.com/' })] }),
    ).toBe('ok');
  });

  it('an edit that would leave the message empty → 50006; one that keeps something is fine', async () => {
    const m = (await rest.post(Routes.channelMessages(peer.channelId), { body: { content: 'hello' } })) as {
      id: string;
    };
    const edit = (body: unknown) =>
      refusal(rest.patch(Routes.channelMessage(peer.channelId, m.id), { body }));
    expect(await edit({ content: '' })).toMatchObject({ code: 50006 });
    expect(await edit({ components: [row(button('k'))] })).toBe('ok');
    expect(await edit({ content: '' })).toBe('ok');
  });

  it('one callback per interaction: the second → 40060; follow-ups only after the callback', async () => {
    const interaction = buildSlashInteraction({
      applicationId: peer.applicationId,
      guildId: peer.guildId,
      channelId: peer.channelId,
      query: 'cats',
    });
    peer.expectInteraction(interaction);
    const followUp = () =>
      refusal(
        rest.post(Routes.webhook(peer.applicationId, interaction.token), {
          body: { content: 'x' },
          auth: false,
        }),
      );
    expect(await followUp()).toMatchObject({ code: 10015, status: 404 });
    const callback = (type: number) =>
      refusal(
        rest.post(Routes.interactionCallback(interaction.id, interaction.token), {
          body: { type, data: type === 4 ? { content: 'hi' } : undefined },
          auth: false,
        }),
      );
    expect(await callback(5)).toBe('ok');
    expect(await callback(4)).toMatchObject({ code: 40060, status: 400 });
    expect(await callback(5)).toMatchObject({ code: 40060, status: 400 });
    expect(await followUp()).toBe('ok');
  });

  it('a callback with an empty message → 50006, and the interaction is still unanswered', async () => {
    const interaction = buildSlashInteraction({
      applicationId: peer.applicationId,
      guildId: peer.guildId,
      channelId: peer.channelId,
      query: 'cats',
    });
    peer.expectInteraction(interaction);
    const post = (data: unknown) =>
      refusal(
        rest.post(Routes.interactionCallback(interaction.id, interaction.token), {
          body: { type: 4, data },
          auth: false,
        }),
      );
    expect(await post({ content: '' })).toMatchObject({ code: 50006 });
    const long = await post({ content: 'x'.repeat(2001) });
    expect(long !== 'ok' && long.raw).toMatchObject({ code: 50035, errors: { data: { content: {} } } });
    expect(await post({ content: 'fine' })).toBe('ok');
  });
});

describe('discord peer: the gateway checks the token and the intents', () => {
  let peer: DiscordPeer;
  beforeAll(async () => {
    peer = await DiscordPeer.start({ privilegedIntents: 0 });
  });
  afterAll(async () => {
    await peer.close();
  });

  /** Identifies over a raw WebSocket; resolves with the close code and reason. */
  function identify(token: string, intents: number): Promise<{ code: number; reason: string }> {
    const ws = new WebSocket(`${peer.origin.replace('http', 'ws')}/gateway`);
    return new Promise((resolve, reject) => {
      ws.on('message', (raw) => {
        const p = JSON.parse(String(raw)) as { op: number };
        if (p.op === 10)
          ws.send(
            JSON.stringify({
              op: 2,
              d: { token, intents, properties: { os: 'linux', browser: 't', device: 't' } },
            }),
          );
        if (p.op === 0) {
          ws.close(1000);
          resolve({ code: 0, reason: 'ready' });
        }
      });
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
      ws.on('error', reject);
    });
  }

  it('a wrong token → 4004 Authentication failed.', async () => {
    expect(await identify('not-the-token', 1)).toEqual({ code: 4004, reason: 'Authentication failed.' });
  });

  it('a privileged intent not enabled for the app → 4014; unknown bits → 4013; allowed ones → READY', async () => {
    const MESSAGE_CONTENT = 1 << 15;
    const GUILD_MEMBERS = 1 << 1;
    expect(await identify(peer.token, 1 | MESSAGE_CONTENT)).toEqual({
      code: 4014,
      reason: 'Disallowed intent(s).',
    });
    expect(await identify(peer.token, 1 | GUILD_MEMBERS)).toEqual({
      code: 4014,
      reason: 'Disallowed intent(s).',
    });
    expect(await identify(peer.token, 1 << 30)).toEqual({ code: 4013, reason: 'Invalid intent(s).' });
    expect(await identify(peer.token, 1 | (1 << 9))).toEqual({ code: 0, reason: 'ready' });
  });

  it('the adapter asking for Message Content where it is not enabled fails to start, naming the setting', async () => {
    const adapter = createDiscordAdapter({
      config: { token: peer.token, apiUrl: peer.apiUrl, messageContent: true },
      handler: new RecordingHandler(),
      logger: silentLogger(),
      clientOptions: { waitGuildTimeout: 1000 },
    });
    const started = Date.now();
    await expect(adapter.start()).rejects.toMatchObject({
      code: 'config_invalid',
      userMessage: expect.stringContaining('DISCORD_MESSAGE_CONTENT'),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(peer.gateway.closes.at(-1)?.code).toBe(4014);
    await adapter.stop();
  });

  it('the adapter with a wrong token fails to start, naming DISCORD_TOKEN', async () => {
    const adapter = createDiscordAdapter({
      config: { token: 'wrong-token', apiUrl: peer.apiUrl, messageContent: false },
      handler: new RecordingHandler(),
      logger: silentLogger(),
      clientOptions: { waitGuildTimeout: 1000 },
    });
    await expect(adapter.start()).rejects.toMatchObject({
      code: 'config_invalid',
      userMessage: expect.stringContaining('DISCORD_TOKEN'),
    });
    await adapter.stop();
  });
});

describe('discord adapter against the strict peer', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers a slash command with exactly one callback and no refused call', async () => {
    const interaction = buildSlashInteraction({
      applicationId: h.peer.applicationId,
      guildId: h.peer.guildId,
      channelId: h.peer.channelId,
      query: 'x'.repeat(3000),
    });
    h.peer.expectInteraction(interaction);
    h.peer.gateway.dispatch('INTERACTION_CREATE', interaction, h.peer.guildId);
    await h.peer.waitForCall((c) => c.method === 'PATCH' && c.path.endsWith('/messages/@original'), 15_000);
    const callbacks = h.peer.calls.filter((c) => c.path.startsWith(`/interactions/${interaction.id}/`));
    expect(callbacks.map((c) => c.status)).toEqual([200]);
    expect(h.peer.calls.filter((c) => c.status >= 400)).toEqual([]);
  });
});
