/**
 * Every metric the dashboard and the alert rules name is one the bot exports: a real bot (startBot
 * over the tiny model) with the web chat, Slack (HTTP mode, against the Slack peer), Discord
 * (against the Discord peer's gateway and REST) and Gemini (its peer) answers a few searches on
 * every platform, one falling back to CLIP order; then its /metrics is scraped and each name (and
 * each label name a selector matches on) must be there.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBot } from '../../adapters/app/serve.ts';
import { buildUserMessage } from '../peers/discord-payloads.ts';
import { DiscordPeer } from '../peers/discord-peer.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import { type SlackPeer, startSlackPeer } from '../peers/slack-peer.ts';
import { postSigned } from '../peers/slack-signing.ts';
import { metricValue, startTinyBot, WebClient } from '../production/harness.ts';
import { BOT_TOKEN, SIGNING_SECRET, slackFixture, unique } from '../slack/harness.ts';
import {
  alertRules,
  DASHBOARD,
  dashboardExpressions,
  exposedSeries,
  type MetricReference,
  metricReferences,
} from './deploy-files.ts';

let gemini: GeminiPeer;
let slack: SlackPeer;
let discord: DiscordPeer;
let bot: RunningBot;

beforeAll(async () => {
  gemini = await startGeminiPeer();
  slack = await startSlackPeer({ botToken: BOT_TOKEN, teamId: 'T111' });
  discord = await DiscordPeer.start();
  bot = await startTinyBot({
    GEMINI_API_KEY: 'test-key-metric-names',
    GEMINI_BASE_URL: gemini.url,
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    DISCORD_TOKEN: discord.token,
    DISCORD_API_URL: discord.apiUrl,
    RATE_LIMIT_PER_MINUTE: '1000',
  });
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  await Promise.all([gemini?.close(), slack?.close(), discord?.close()]);
});

async function searchEverywhere(): Promise<void> {
  const web = new WebClient(bot.url);
  expect((await web.search('red bicycle'))[1].kind).toBe('results');
  gemini.setMode('malformed', { malformed: 'not-json' });
  expect((await web.search('a dog on a beach'))[1].kind).toBe('results');
  gemini.setMode('success');

  const command = new URLSearchParams({
    ...slackFixture<Record<string, string>>('slash_command_bolt_python.json'),
    command: '/imagesearch',
    text: 'cats on a sofa',
    trigger_id: unique('trig.'),
    response_url: slack.responseUrl(unique('cmd')),
  }).toString();
  expect((await postSigned(`${bot.url}/slack/events`, command, { secret: SIGNING_SECRET })).status).toBe(200);

  const msg = buildUserMessage({
    guildId: discord.guildId,
    channelId: discord.channelId,
    content: 'foxes in snow',
    mention: discord.botUser,
  });
  discord.gateway.dispatch('MESSAGE_CREATE', msg, discord.guildId);

  // Both grids are uploaded after the platform was answered: wait for their upload metrics.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { body } = await bot.metrics.expose();
    const uploaded = ['slack', 'discord'].filter(
      (platform) => metricValue(body, 'imagesearch_uploads_total', { platform }) >= 1,
    );
    if (uploaded.length === 2) break;
    if (Date.now() > deadline) throw new Error(`uploads recorded only for: ${uploaded.join(', ') || 'none'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('metric names in the dashboard and the alert rules', () => {
  it('are all exported by a bot that answered on every platform', async () => {
    await searchEverywhere();
    const res = await fetch(`${bot.url}/metrics`);
    expect(res.status).toBe(200);
    const exposition = await res.text();
    const series = exposedSeries(exposition);
    for (const platform of ['web', 'slack', 'discord'])
      expect(metricValue(exposition, 'imagesearch_requests_total', { platform }), platform).toBeGreaterThan(
        0,
      );
    for (const platform of ['slack', 'discord'])
      expect(metricValue(exposition, 'imagesearch_uploads_total', { platform }), platform).toBeGreaterThan(0);

    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    const refs: MetricReference[] = [
      ...dashboardExpressions(dashboard).flatMap((e) => metricReferences(e.expr, e.where)),
      ...alertRules().flatMap((r) => metricReferences(r.expr, `alert ${r.alert}`)),
    ];
    // Both files name metrics at all (a broken extraction would make this test pass vacuously).
    expect(refs.filter((r) => r.where.startsWith('panel')).length).toBeGreaterThan(15);
    expect(new Set(refs.filter((r) => r.where.startsWith('alert')).map((r) => r.where)).size).toBe(
      alertRules().length,
    );

    const missing = refs.filter((r) => !series.has(r.name)).map((r) => `${r.name} (${r.where})`);
    expect(missing).toEqual([]);
    const badLabels = refs.flatMap((r) =>
      r.labels.filter((l) => !series.get(r.name)?.has(l)).map((l) => `${r.name}{${l}} (${r.where})`),
    );
    expect(badLabels).toEqual([]);
  }, 60_000);
});
