import { describe, expect, it } from 'vitest';
import { mentionsUser } from '../../adapters/kit/text.ts';
import { resultMessage } from '../../adapters/slack/blocks.ts';
import { downloadSlackImage, slackFileOrigins } from '../../adapters/slack/files.ts';
import { deliveryKey } from '../../adapters/slack/listeners.ts';
import { createSlackAdapter, slackConfigFrom } from '../../adapters/slack/slack-adapter.ts';
import { cleanSlackText } from '../../adapters/slack/text.ts';
import { resultActions } from '../../src/core/actions.ts';
import { isImageSearchError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { RecordingHandler } from '../support/recording-handler.ts';
import { slackFixture } from './harness.ts';

describe('cleanSlackText', () => {
  it.each([
    ['cats &amp; dogs', 'cats & dogs'],
    ['a &lt;b&gt; c', 'a <b> c'],
    ['<@U123> hello', 'hello'],
    ['<@U123|bob> hi <#C123|general>', 'hi'],
    ['see <https://x.example/a|the label> now', 'see the label now'],
    ['see <https://x.example/a>', 'see https://x.example/a'],
    ['<!here> sunsets', 'sunsets'],
    ['&amp;lt; stays text', '&lt; stays text'],
    ['  many   spaces\n\tand lines ', 'many spaces and lines'],
    ['', ''],
  ])('%j → %j', (raw, clean) => {
    expect(cleanSlackText(raw)).toBe(clean);
  });

  it('cleans the fixtures’ mention texts', () => {
    const docs = slackFixture<{ event: { text: string } }>('event_app_mention_docs.json');
    expect(cleanSlackText(docs.event.text)).toBe('is it everything a river should be?');
    expect(mentionsUser(docs.event.text, 'U0LAN0Z89')).toBe(true);
    expect(mentionsUser(docs.event.text, 'U0OTHER')).toBe(false);
  });
});

describe('cleanSlackText (markup)', () => {
  it('unescapes Slack entities and strips markup', () => {
    expect(cleanSlackText('cats &amp; dogs &lt;3 &gt; birds')).toBe('cats & dogs <3 > birds');
    expect(cleanSlackText('<@U123ABC> cats on a sofa')).toBe('cats on a sofa');
    expect(cleanSlackText('look <#C123|general> here')).toBe('look here');
    expect(cleanSlackText('see <https://example.com/x|the label> now')).toBe('see the label now');
    expect(cleanSlackText('see <https://example.com/x>')).toBe('see https://example.com/x');
  });
});

describe('delivery de-duplication', () => {
  it('keys messages by channel and ts, other events by event_id, clicks by trigger_id + action_ts', () => {
    // app_mention and message events about one message are one delivery: named by the message.
    expect(deliveryKey(slackFixture('event_app_mention_docs.json'))).toBe(
      'message:C123ABC456:1515449522.000016',
    );
    expect(deliveryKey({ event_id: 'Ev123ABC456', event: { type: 'team_join' } })).toBe('event:Ev123ABC456');
    expect(deliveryKey(slackFixture('block_actions_bolt_python.json'))).toBe(
      'action:111.222.valid:1596530385.194939',
    );
    expect(deliveryKey(slackFixture('slash_command_documented.json'))).toBe(
      'trigger:398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
    );
    expect(deliveryKey({})).toBeUndefined();
  });
});

describe('query-by-image download policy', () => {
  it('allows files.slack.com and an explicitly given origin only', () => {
    const origins = slackFileOrigins(['http://127.0.0.1:4010/api/']);
    expect([...origins].sort()).toEqual(['http://127.0.0.1:4010', 'https://files.slack.com']);
    expect([...slackFileOrigins()]).toEqual(['https://files.slack.com']);
  });

  it('never sends the bot token to SLACK_API_URL’s host just because it is configured', () => {
    const config = slackConfigFrom({
      slackBotToken: 'xoxb-x',
      slackSigningSecret: 's',
      slackAppToken: undefined,
      slackApiUrl: 'http://127.0.0.1:4010/api/',
    });
    expect(config?.apiUrl).toBe('http://127.0.0.1:4010/api/');
    expect(
      createSlackAdapter({ config: config!, handler: new RecordingHandler(), logger: silentLogger() }),
    ).toBeDefined();
    expect([...slackFileOrigins()]).not.toContain('http://127.0.0.1:4010');
  });

  it('refuses non-images, oversize files and foreign hosts before any request', async () => {
    const policy = { botToken: 'xoxb-x', origins: slackFileOrigins(), maxBytes: 1000 };
    const cases = [
      {
        mimetype: 'application/pdf',
        url_private_download: 'https://files.slack.com/a.pdf',
        code: 'image_invalid',
      },
      {
        mimetype: 'image/png',
        size: 5000,
        url_private_download: 'https://files.slack.com/a.png',
        code: 'image_too_large',
      },
      {
        mimetype: 'image/png',
        url_private_download: 'https://files.slack.com.evil.example/a.png',
        code: 'host_not_allowed',
      },
      {
        mimetype: 'image/png',
        url_private_download: 'http://files.slack.com/a.png',
        code: 'host_not_allowed',
      },
    ];
    for (const { code, ...file } of cases) {
      const err = await downloadSlackImage(file, policy).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isImageSearchError(err) && err.code).toBe(code);
    }
  });
});

describe('Block Kit rendering', () => {
  it('escapes markup in text and renders every action as a button with its id', () => {
    const msg = resultMessage('cats <b> & dogs', resultActions(4));
    expect(msg.text).toBe('cats &lt;b&gt; &amp; dogs');
    const buttons = msg.blocks.flatMap((b) => (b.type === 'actions' ? b.elements : []));
    expect(buttons).toHaveLength(10);
    expect(JSON.stringify(msg.blocks).length).toBeLessThan(4000);
  });
});

describe('manifest.yml', () => {
  it('asks for exactly the scopes and events the adapter uses, and points every URL at /slack/events', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../../adapters/slack/manifest.yml', import.meta.url), 'utf8');
    const listAfter = (key: string) => {
      const lines = text.split('\n');
      const start = lines.findIndex((l) => l.trim() === `${key}:`);
      const out: string[] = [];
      for (const line of lines.slice(start + 1)) {
        if (line.trim().startsWith('#')) continue;
        const m = /^\s+- ([\w:.]+)$/.exec(line);
        if (!m) break;
        out.push(m[1]!);
      }
      return out.sort();
    };
    expect(listAfter('bot')).toEqual(
      [
        'app_mentions:read',
        'channels:history',
        'chat:write',
        'commands',
        'files:read',
        'files:write',
        'groups:history',
      ].sort(),
    );
    expect(listAfter('bot_events')).toEqual(['app_mention', 'message.channels', 'message.groups']);
    expect(text).toContain('- command: /imagesearch');
    const urls = [...text.matchAll(/url: (\S+)/g)].map((m) => m[1]);
    expect(urls.length).toBe(3);
    expect(urls.every((u) => u?.endsWith('/slack/events'))).toBe(true);
    expect(text).toMatch(/interactivity:\n\s+is_enabled: true/);
  });
});
