import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUserMessage } from '../peers/discord-payloads.ts';
import type { RecordedCall } from '../peers/discord-peer.ts';
import { gridJpeg } from '../support/discord-handler.ts';
import { type Harness, sleep, startHarness } from './harness.ts';

const replyTo = (id: string) => (c: RecordedCall) =>
  c.method === 'POST' &&
  (c.body as { message_reference?: { message_id: string } } | undefined)?.message_reference?.message_id ===
    id;

describe('Discord query by image', () => {
  let h: Harness;
  let other: http.Server;
  let otherHits = 0;
  beforeAll(async () => {
    h = await startHarness();
    // A non-Discord host on the same machine: must never be fetched.
    other = http.createServer((_req, res) => {
      otherHits++;
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(Buffer.alloc(10));
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((r) => other.close(() => r()));
  });

  it('searches with an image attached to a mention (downloaded from the allowed host)', async () => {
    const { peer, handler } = h;
    const bytes = await gridJpeg('query image', 128);
    const attachment = peer.hostFile(peer.channelId, {
      field: 'files[0]',
      filename: 'cat.jpg',
      contentType: 'image/jpeg',
      bytes,
    });
    const msg = buildUserMessage({
      guildId: peer.guildId,
      channelId: peer.channelId,
      content: '',
      mention: peer.botUser,
      attachments: [attachment],
    });
    peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
    await peer.waitForCall((c) => c.method === 'PATCH' && c.multipart);
    const request = handler.requests.at(-1)!;
    expect(request.text).toBeUndefined();
    expect(request.image?.mime).toBe('image/jpeg');
    expect(request.image?.bytes.equals(bytes)).toBe(true);
  });

  it('refuses an attachment URL that is not on Discord’s CDN, without fetching it', async () => {
    const { peer, handler } = h;
    const before = handler.requests.length;
    const port = (other.address() as AddressInfo).port;
    for (const url of [
      `http://127.0.0.1:${port}/cat.jpg`,
      'https://cdn.discordapp.com.evil.example/cat.jpg',
      'http://cdn.discordapp.com/cat.jpg',
    ]) {
      const msg = buildUserMessage({
        guildId: peer.guildId,
        channelId: peer.channelId,
        content: 'like this',
        mention: peer.botUser,
        attachments: [
          { id: '1', filename: 'cat.jpg', size: 10, url, proxy_url: url, content_type: 'image/jpeg' },
        ],
      });
      peer.gateway.dispatch('MESSAGE_CREATE', msg, peer.guildId);
      const reply = await peer.waitForCall(replyTo(msg.id));
      expect((reply.body as { content: string }).content).toBe('I can only read images uploaded to Discord.');
    }
    await sleep(100);
    expect(otherHits).toBe(0);
    expect(handler.requests.length).toBe(before);
  });

  it('refuses non-images and oversized images', async () => {
    const { peer, handler } = h;
    const before = handler.requests.length;
    const pdf = peer.hostFile(peer.channelId, {
      field: 'f',
      filename: 'doc.pdf',
      contentType: 'application/pdf',
      bytes: Buffer.from('%PDF-1.4'),
    });
    const m1 = buildUserMessage({
      guildId: peer.guildId,
      channelId: peer.channelId,
      content: '',
      mention: peer.botUser,
      attachments: [pdf],
    });
    peer.gateway.dispatch('MESSAGE_CREATE', m1, peer.guildId);
    expect(((await peer.waitForCall(replyTo(m1.id))).body as { content: string }).content).toMatch(
      /not an image/,
    );

    const huge = peer.hostFile(peer.channelId, {
      field: 'f',
      filename: 'big.png',
      contentType: 'image/png',
      bytes: Buffer.alloc(16),
    });
    const m2 = buildUserMessage({
      guildId: peer.guildId,
      channelId: peer.channelId,
      content: '',
      mention: peer.botUser,
      attachments: [{ ...huge, size: 50 * 1024 * 1024 }],
    });
    peer.gateway.dispatch('MESSAGE_CREATE', m2, peer.guildId);
    expect(((await peer.waitForCall(replyTo(m2.id))).body as { content: string }).content).toMatch(
      /too large/,
    );
    expect(handler.requests.length).toBe(before);
  });
});
