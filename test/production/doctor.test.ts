/**
 * `imagesearch doctor` against the local peers (Slack Web API, Discord REST, Gemini), a child Redis
 * and the tiny model: every check passes when all is well, and each broken part is named with its fix.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctor } from '../../adapters/app/doctor.ts';
import { DiscordPeer } from '../peers/discord-peer.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import { type SlackPeer, startSlackPeer } from '../peers/slack-peer.ts';
import { REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { type RedisHandle, redisServerInstalled, startRedis } from '../support/redis-server.ts';
import { tinyBotEnv } from './harness.ts';

const SLACK_BOT = 'xoxb-doctor-SECRETbot-0001';
const SLACK_APP = 'xapp-1-doctor-SECRETapp-0001';
const DISCORD = 'doctor.SECRETdiscord.token';
const GEMINI = 'AIzaDoctorSECRETgeminiKey000000000000';
const SECRET_TEXT = /SECRET[a-z]/;

let slack: SlackPeer;
let discord: DiscordPeer;
let gemini: GeminiPeer;
let redis: RedisHandle | undefined;

beforeAll(async () => {
  // A socket URL makes apps.connections.open succeed; doctor never connects to it.
  slack = await startSlackPeer({ botToken: SLACK_BOT, appToken: SLACK_APP, socketUrl: 'ws://127.0.0.1:9/' });
  discord = await DiscordPeer.start({ token: DISCORD });
  gemini = await startGeminiPeer();
  if (redisServerInstalled()) redis = await startRedis();
});

afterAll(async () => {
  await slack?.close();
  await discord?.close();
  await gemini?.close();
  await redis?.stop();
});

async function runDoctor(env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await doctor(env, (l) => lines.push(l));
  return { code, lines };
}

const line = (lines: string[], name: string) => lines.find((l) => new RegExp(`^. ${name}\\b`).test(l)) ?? '';
const fixOf = (lines: string[], name: string) => lines[lines.indexOf(line(lines, name)) + 1] ?? '';

describe('imagesearch doctor', () => {
  it('passes every check against working peers, Redis and the tiny model', async () => {
    const env = await tinyBotEnv({
      SLACK_BOT_TOKEN: SLACK_BOT,
      SLACK_APP_TOKEN: SLACK_APP,
      SLACK_API_URL: slack.apiUrl,
      DISCORD_TOKEN: DISCORD,
      DISCORD_API_URL: discord.apiUrl,
      DISCORD_APPLICATION_ID: discord.applicationId,
      GEMINI_API_KEY: GEMINI,
      GEMINI_BASE_URL: gemini.url,
      ...(redis ? { STATE_URL: redis.url } : {}),
    });
    const { code, lines } = await runDoctor(env);
    const out = lines.join('\n');
    expect(code, out).toBe(0);
    for (const name of ['config', 'model', 'index', 'state', 'gemini', 'slack', 'discord'])
      expect(line(lines, name), out).toMatch(/^✔/);
    expect(line(lines, 'model')).toMatch(/\((fp32|fp16|quantized), \d+-d\) on cpu/);
    expect(line(lines, 'index')).toMatch(/\d+ images, built with .* \(matches the model\)/);
    expect(line(lines, 'state')).toContain(redis ? 'redis: write, read and delete work' : 'sqlite');
    expect(line(lines, 'slack')).toContain('Socket Mode');
    expect(line(lines, 'discord')).toContain(`imagesearch (${discord.applicationId})`);
    expect(slack.callsOf('auth.test')).toHaveLength(1);
    expect(discord.calls.some((c) => c.path === '/users/@me' && c.authorized)).toBe(true);
    expect(out).not.toMatch(SECRET_TEXT);
  });

  it('names each broken part and how to fix it, exits 1, and never prints a secret', async () => {
    gemini.setMode('400');
    try {
      const env = await tinyBotEnv({
        IMAGESEARCH_MODEL_DIR: path.join(tempDir(), 'no-model'),
        SLACK_BOT_TOKEN: 'xoxb-wrong-SECRETtoken-1',
        SLACK_SIGNING_SECRET: 'SECRETsigning',
        SLACK_API_URL: slack.apiUrl,
        DISCORD_TOKEN: 'wrong.SECRETdiscord.token',
        DISCORD_API_URL: discord.apiUrl,
        GEMINI_API_KEY: 'AIzaWrongSECRETkey0000000000000000000',
        GEMINI_BASE_URL: gemini.url,
        STATE_URL: 'redis://127.0.0.1:9',
      });
      const { code, lines } = await runDoctor(env);
      const out = lines.join('\n');
      expect(code, out).toBe(1);
      expect(line(lines, 'model')).toMatch(/^✖ model .*No CLIP model found/);
      expect(fixOf(lines, 'model')).toMatch(/→ .*IMAGESEARCH_MODEL_DIR/);
      expect(line(lines, 'state')).toMatch(/^✖ state .*redis store did not answer/);
      expect(fixOf(lines, 'state')).toMatch(/STATE_URL/);
      expect(line(lines, 'gemini')).toMatch(/^✖ gemini .*API key was rejected/);
      expect(fixOf(lines, 'gemini')).toMatch(/GEMINI_API_KEY/);
      expect(line(lines, 'slack')).toMatch(/^✖ slack .*auth\.test failed \(invalid_auth\)/);
      expect(fixOf(lines, 'slack')).toMatch(/SLACK_BOT_TOKEN/);
      expect(line(lines, 'discord')).toMatch(/^✖ discord .*rejected \(401\)/);
      expect(fixOf(lines, 'discord')).toMatch(/DISCORD_TOKEN/);
      expect(out).toMatch(/\d check\(s\) failed\./);
      // The Gemini peer echoes the rejected key in its error body, as Google does: it must not leak.
      expect(out).not.toMatch(SECRET_TEXT);
    } finally {
      gemini.setMode('success');
    }
  });

  it('reports optional parts as off, and a bad variable by name without its value', async () => {
    const { code, lines } = await runDoctor(await tinyBotEnv());
    expect(code).toBe(0);
    for (const name of ['gemini', 'slack', 'discord']) expect(line(lines, name)).toMatch(/^– /);
    expect(fixOf(lines, 'gemini')).toMatch(/GEMINI_API_KEY/);

    const bad = await runDoctor({ PORT: 'SECRETport' });
    expect(bad.code).toBe(1);
    expect(bad.lines[0]).toMatch(/^✖ config .*PORT/);
    expect(bad.lines.join('\n')).not.toMatch(SECRET_TEXT);
  });

  it('is a CLI command whose exit code says whether a required check failed', async () => {
    const env = await tinyBotEnv({ IMAGESEARCH_INDEX_DIR: path.join(tempDir(), 'no-index') });
    const run = promisify(execFile);
    const result = await run(process.execPath, [path.join(REPO_ROOT, 'bin/imagesearch.js'), 'doctor'], {
      cwd: tempDir(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      timeout: 60_000,
    }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '' }),
    );
    expect(result.code, result.stdout).toBe(1);
    expect(result.stdout).toMatch(/^✔ model /m);
    expect(result.stdout).toMatch(/^✖ index /m);
    expect(result.stdout).toMatch(/→ .*IMAGESEARCH_INDEX_DIR/);
  });
});
