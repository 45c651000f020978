/**
 * The configuration schema's own mapping (src/util/config.ts): trimming, derived paths, the search
 * knobs, image hosts, the secrets handed to the scrubber, and how errors list each bad variable.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig, resolveLocation, secretValues } from '../../src/util/config.ts';

describe('configuration mapping', () => {
  it('trims string settings; blank ones are unset', () => {
    const c = loadConfig({
      SLACK_BOT_TOKEN: '  xoxb-1-abc  ',
      GEMINI_API_KEY: '   ',
      DISCORD_APPLICATION_ID: '\t42\n',
    });
    expect(c.slackBotToken).toBe('xoxb-1-abc');
    expect(c.geminiApiKey).toBeUndefined();
    expect(c.discordApplicationId).toBe('42');
  });

  it('every variable set empty or blank reads as unset (a `PORT=` line in .env never becomes port 0)', () => {
    const unset = loadConfig({});
    const problems: string[] = [];
    for (const name of CONFIG_VARIABLES) {
      for (const value of ['', '  ']) {
        let got: unknown;
        try {
          got = loadConfig({ [name]: value });
        } catch (e) {
          got = (e as Error).message;
        }
        if (JSON.stringify(got) !== JSON.stringify(unset)) problems.push(`${name}=${JSON.stringify(value)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('model and index default under the data folder; set, they are taken as written (made absolute)', () => {
    const c = loadConfig({ IMAGESEARCH_DATA_DIR: '/srv/is' });
    expect(c.dataDir).toBe('/srv/is');
    expect(c.modelDir).toBe('/srv/is/models/clip-vit-base-patch32');
    expect(c.indexDir).toBe('/srv/is/index/unsplash-lite');
    const set = loadConfig({ IMAGESEARCH_MODEL_DIR: 'm', IMAGESEARCH_INDEX_DIR: 's3://bucket/idx' });
    expect(set.modelDir).toBe(path.resolve('m'));
    expect(set.indexDir).toBe('s3://bucket/idx');
  });

  it('the search knobs appear only when set', () => {
    expect(loadConfig({}).indexSearch).toEqual({});
    expect(loadConfig({ IMAGESEARCH_LANCE_NPROBES: '7' }).indexSearch).toEqual({ nprobes: 7 });
    expect(loadConfig({ IMAGESEARCH_LANCE_REFINE: '5' }).indexSearch).toEqual({ refineFactor: 5 });
    expect(loadConfig({ IMAGESEARCH_INT8_RESCORE: '250' }).indexSearch).toEqual({ rescore: 250 });
  });

  it('near-duplicate suppression: a cosine, or off (a threshold no pair of unit vectors reaches)', () => {
    expect(loadConfig({}).nearDuplicateCosine).toBe(0.98);
    expect(loadConfig({ IMAGESEARCH_NEAR_DUPLICATE: '0.9' }).nearDuplicateCosine).toBe(0.9);
    expect(loadConfig({ IMAGESEARCH_NEAR_DUPLICATE: 'off' }).nearDuplicateCosine).toBe(2);
  });

  it('IMAGE_HOSTS: comma-separated, trimmed, lower-cased, blanks dropped', () => {
    expect(loadConfig({}).imageHosts).toEqual([]);
    expect(loadConfig({ IMAGE_HOSTS: ' Photos.Example.com, ,*.CDN.example ,' }).imageHosts).toEqual([
      'photos.example.com',
      '*.cdn.example',
    ]);
  });

  it('secrets handed to the scrubber: tokens, keys, AWS credentials and the STATE_URL password (raw and decoded)', () => {
    const c = loadConfig({
      SLACK_BOT_TOKEN: 'xoxb-1-aaa',
      SLACK_SIGNING_SECRET: 'signing-secret-1',
      SLACK_APP_TOKEN: 'xapp-1-bbb',
      DISCORD_TOKEN: 'discord-token-1',
      GEMINI_API_KEY: 'gemini-key-1',
      HF_TOKEN: 'hf_token_1',
      AWS_ACCESS_KEY_ID: 'AKIDSECRETS1',
      STATE_URL: 'redis://:p%40ssword@localhost:6379',
    });
    expect(secretValues(c)).toEqual([
      'xoxb-1-aaa',
      'signing-secret-1',
      'xapp-1-bbb',
      'discord-token-1',
      'gemini-key-1',
      'hf_token_1',
      'AKIDSECRETS1',
      'p%40ssword',
      'p@ssword',
    ]);
    // A file path is no URL and holds no password.
    expect(secretValues(loadConfig({ STATE_URL: 'data/state.sqlite' }))).toEqual([]);
    expect(secretValues(loadConfig({ STATE_URL: 'redis://localhost:6379' }))).toEqual([]);
  });

  it('errors list every bad variable as "NAME: why", separated by semicolons', () => {
    expect(() => loadConfig({ PORT: 'eighty', RATE_LIMIT_PER_MINUTE: '0' })).toThrow(
      /^Invalid configuration — PORT: [^;]+; RATE_LIMIT_PER_MINUTE: [^;]+$/,
    );
  });

  it('resolveLocation keeps scheme://… as written and makes anything else an absolute path', () => {
    for (const uri of ['s3://b/p', 'abc://x', 'x+y.z-w://q', 'S3://b'])
      expect(resolveLocation(uri)).toBe(uri);
    for (const p of ['data/index', '9x://a', 'a/s3://x', 's_3://b'])
      expect(resolveLocation(p)).toBe(path.resolve(p));
  });
});
