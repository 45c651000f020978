import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DiscordAPIError, PermissionsBitField } from 'discord.js';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { BASE_INTENTS, BOT_PERMISSIONS, inviteUrl } from '../../adapters/discord/commands.ts';
import { attachmentOrigins } from '../../adapters/discord/image-input.ts';
import { safeError } from '../../adapters/discord/log-safe.ts';
import { actionRows, fitUpload, renderReply } from '../../adapters/discord/render.ts';
import { cleanDiscordText, threadName } from '../../adapters/discord/text.ts';
import { resultActions } from '../../src/core/actions.ts';
import { REPO_ROOT } from '../support/fixtures.ts';

describe('Discord text cleanup', () => {
  it('drops mentions, channels, roles, timestamps; keeps custom emoji names', () => {
    expect(
      cleanDiscordText('<@123456789012345678> cats <@!123456789012345678> on <#123456789012345678> a sofa'),
    ).toBe('cats on a sofa');
    expect(
      cleanDiscordText(
        '<@&123456789012345678> dogs <:party_cat:123456789012345678> <a:dance:123456789012345678>',
      ),
    ).toBe('dogs party cat dance');
    expect(cleanDiscordText('@everyone sunset <t:1700000000:R> </imagesearch:123456789012345678>')).toBe(
      'sunset',
    );
  });

  it('names threads in at most 100 characters', () => {
    expect(threadName('  cats\non a sofa ')).toBe('cats on a sofa');
    const long = threadName('a'.repeat(300));
    expect([...long]).toHaveLength(100);
    expect(long.endsWith('…')).toBe(true);
    expect(threadName('')).toBe('image search');
  });
});

describe('Discord rendering', () => {
  it('puts 10 result buttons in 3 rows of at most 5', () => {
    const rows = actionRows(resultActions(4)).map((r) => r.toJSON());
    expect(rows.map((r) => r.components.length)).toEqual([4, 4, 2]);
  });

  it('steps a too-large image down until it fits, else gives up', async () => {
    const noisy = await sharp({
      create: {
        width: 1024,
        height: 1024,
        channels: 3,
        background: '#888',
        noise: { type: 'gaussian', mean: 128, sigma: 60 },
      },
    })
      .jpeg({ quality: 100 })
      .toBuffer();
    const fitted = await fitUpload(noisy, 'grid.jpg', Math.floor(noisy.length / 4));
    expect(fitted).toBeDefined();
    const data = fitted!.attachment as Buffer;
    expect(data.length).toBeLessThanOrEqual(noisy.length / 4);
    expect((await sharp(data).metadata()).format).toBe('jpeg');
    expect(await fitUpload(noisy, 'grid.jpg', 100)).toBeUndefined();
  });

  it('renders notices as text that clears attachments and buttons', async () => {
    const r = await renderReply({ kind: 'notice', level: 'warn', text: 'x'.repeat(3000), ephemeral: true });
    expect(r.ephemeral).toBe(true);
    expect(r.payload.files).toEqual([]);
    expect(r.payload.components).toEqual([]);
    expect([...r.payload.content]).toHaveLength(2000);
  });

  it('allows Discord CDN origins plus an explicitly given origin only', () => {
    expect([...attachmentOrigins()]).toEqual(['https://cdn.discordapp.com', 'https://media.discordapp.net']);
    expect([...attachmentOrigins(['http://127.0.0.1:4020/api'])]).toEqual([
      'https://cdn.discordapp.com',
      'https://media.discordapp.net',
      'http://127.0.0.1:4020',
    ]);
  });
});

describe('Discord error logging', () => {
  it('drops interaction tokens and request bodies from REST errors', () => {
    const e = new DiscordAPIError(
      { message: 'Unknown Webhook', code: 10015 },
      10015,
      404,
      'PATCH',
      'https://discord.com/api/v10/webhooks/123/secret-interaction-token/messages/@original',
      { files: [{ name: 'grid.jpg', data: Buffer.alloc(1000) }], body: {} },
    );
    const logged = JSON.stringify(safeError(e));
    expect(logged).not.toContain('secret-interaction-token');
    expect(logged).toContain('/webhooks/123/[token]/messages/@original');
    expect(logged.length).toBeLessThan(400);
  });
});

describe('Discord setup as the READMEs state it', () => {
  it('the invite URL in both READMEs carries exactly the permissions the bot needs', () => {
    expect(new PermissionsBitField(BOT_PERMISSIONS).toArray().sort()).toEqual(
      [
        'AttachFiles',
        'CreatePublicThreads',
        'ReadMessageHistory',
        'SendMessages',
        'SendMessagesInThreads',
        'ViewChannel',
      ].sort(),
    );
    for (const readme of ['README.md', 'adapters/discord/README.md']) {
      const text = readFileSync(path.join(REPO_ROOT, readme), 'utf8');
      expect(text, readme).toContain(inviteUrl('YOUR_APPLICATION_ID'));
    }
  });

  it('identifies with Guilds and GuildMessages only (neither privileged), as the README says', () => {
    expect(BASE_INTENTS.reduce((a, b) => a | b, 0)).toBe((1 << 0) | (1 << 9));
    const text = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    expect(text).toContain('`Guilds` and `GuildMessages`');
  });
});
