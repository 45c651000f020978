import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSearchError } from '../../src/core/errors.ts';
import { photoJpeg } from '../support/recording-handler.ts';
import { type Harness, nextTs, settled, startHarness } from './harness.ts';

describe('slack events', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  /** Runs a top-level mention and returns the result thread's root ts. */
  async function newThread(text: string): Promise<string> {
    h.peer.reset();
    const res = await h.event(h.mention(text));
    expect(res.status).toBe(200);
    await settled(h);
    const root = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === undefined);
    expect(root).toBeDefined();
    return root!.ts;
  }

  it('app_mention starts a result thread in the channel, with mention markup removed', async () => {
    const before = h.handler.requests.length;
    const root = await newThread('red &lt;bicycles&gt; near <#C123|general>');
    const req = h.handler.requests[before]!;
    expect(req.text).toBe('red <bicycles> near');
    expect(req.conversationId).toBe(`slack:T111:C111:${root}`);
    expect(req.userId).toBe('slack:W222');
    const upload = [...h.peer.uploads.values()][0]!;
    expect(upload.threadTs).toBe(root);
    expect((await sharp(upload.bytes!).metadata()).format).toBe('jpeg');
  });

  it('a reply in the result thread (no mention) is a follow-up answered in the same thread', async () => {
    const root = await newThread('dogs');
    h.peer.reset();
    const before = h.handler.requests.length;
    const res = await h.event(h.threadReply(root, 'only black and white ones'));
    expect(res.status).toBe(200);
    await settled(h);
    const req = h.handler.requests[before]!;
    expect(req.followUp).toBe(true);
    expect(req.text).toBe('only black and white ones');
    expect(req.conversationId).toBe(`slack:T111:C111:${root}`);
    // New grid in the same thread; the buttons come as a thread reply, nothing new at channel level.
    const upload = [...h.peer.uploads.values()][0]!;
    expect(upload.completed).toBe(true);
    expect(upload.threadTs).toBe(root);
    const posted = h.peer.messages.filter((m) => m.kind === 'message');
    expect(posted.length).toBe(1);
    expect(posted[0]!.threadTs).toBe(root);
    expect(posted[0]!.blocks?.length).toBeGreaterThan(1);
  });

  it('a retried event (X-Slack-Retry-Num, same event_id) is acked and answered exactly once', async () => {
    h.peer.reset();
    const before = h.handler.requests.length;
    const envelope = h.mention('lighthouses at dusk');
    const first = await h.event(envelope);
    const retry1 = await h.event(envelope, { retryNum: 1 });
    const retry2 = await h.event(envelope, { retryNum: 2 });
    expect([first.status, retry1.status, retry2.status]).toEqual([200, 200, 200]);
    expect(retry1.ms).toBeLessThan(1000);
    await settled(h);
    expect(h.handler.requests.length - before).toBe(1);
    expect(h.peer.uploads.size).toBe(1);
  });

  it('one message delivered as app_mention and as message gets one answer', async () => {
    const root = await newThread('boats');
    h.peer.reset();
    const before = h.handler.requests.length;
    const ts = nextTs();
    const text = `<@${h.peer.botUserId}> with sails`;
    await h.event(h.mention('with sails', { ts, event_ts: ts, thread_ts: root }));
    await h.event(h.threadReply(root, text, { ts, event_ts: ts }));
    await settled(h);
    expect(h.handler.requests.length - before).toBe(1);
    expect(h.handler.requests[before]!.followUp).toBe(true);
  });

  it('ignores its own messages, other bots, and threads that are not result threads', async () => {
    const root = await newThread('forests');
    const before = h.handler.requests.length;
    await h.event(h.threadReply(root, 'from myself', { user: h.peer.botUserId }));
    await h.event(h.threadReply(root, 'from a bot', { bot_id: 'B0OTHER', user: 'U0OTHERBOT' }));
    await h.event(h.threadReply(root, 'bot message', { subtype: 'bot_message', bot_id: 'B0OTHER' }));
    await h.event(h.threadReply('1600000000.000100', 'someone else’s thread', { parent_user_id: 'W333' }));
    await h.event(h.threadReply(root, 'edited', { subtype: 'message_changed' }));
    await settled(h);
    expect(h.handler.requests.length).toBe(before);
  });

  it('query by image: downloads a file shared in a result thread with the bot token', async () => {
    const root = await newThread('beaches');
    h.peer.reset();
    const before = h.handler.requests.length;
    const bytes = await photoJpeg();
    const url = h.peer.addFile('query.jpg', bytes, 'image/jpeg');
    const file = {
      id: 'F0QUERY',
      name: 'query.jpg',
      mimetype: 'image/jpeg',
      size: bytes.length,
      url_private_download: url,
    };
    await h.event(h.threadReply(root, '', { subtype: 'file_share', files: [file] }));
    await settled(h);
    const req = h.handler.requests[before]!;
    expect(req.image?.bytes.equals(bytes)).toBe(true);
    expect(req.image?.mime).toBe('image/jpeg');
    const download = h.peer.callsOf('download')[0]!;
    expect(download.token).toBe('xoxb-imagesearch-test-token');
  });

  it('query by image: refuses a file URL outside Slack’s file hosts and never sends the token there', async () => {
    const root = await newThread('rivers');
    h.peer.reset();
    const before = h.handler.requests.length;
    const file = {
      id: 'F0EVIL',
      name: 'x.jpg',
      mimetype: 'image/jpeg',
      size: 100,
      url_private_download: 'https://evil.example.com/x.jpg',
    };
    await h.event(h.threadReply(root, '', { subtype: 'file_share', files: [file] }));
    await settled(h);
    expect(h.handler.requests.length).toBe(before);
    expect(h.peer.callsOf('download')).toHaveLength(0);
    const note = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === root);
    expect(note?.text).toContain('only read images shared in Slack');
  });

  it('a failure inside the handler becomes a short friendly message in the thread', async () => {
    const root = await newThread('castles');
    h.peer.reset();
    h.handler.options = { fail: new Error('database exploded: secret details') };
    try {
      await h.event(h.threadReply(root, 'at night'));
      await settled(h);
    } finally {
      h.handler.options = {};
    }
    const note = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === root);
    expect(note?.text).toContain('Something went wrong');
    expect(note?.text).not.toContain('database');

    h.peer.reset();
    h.handler.options = { fail: new ImageSearchError('rate_limited', 'Slow down a little, please.') };
    try {
      await h.event(h.threadReply(root, 'again'));
      await settled(h);
    } finally {
      h.handler.options = {};
    }
    expect(h.peer.messages.find((m) => m.threadTs === root)?.text).toContain('Slow down a little');
  });
});
