import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSearchError } from '../../src/core/errors.ts';
import { photoJpeg } from '../support/recording-handler.ts';
import {
  blocksOf,
  buttonIds,
  type Harness,
  imageFileIds,
  nextTs,
  settled,
  sharedUploads,
  startHarness,
} from './harness.ts';

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
    // The root itself shows the grid: an image block naming the (unshared) upload.
    const upload = [...h.peer.uploads.values()][0]!;
    expect(upload.channelId).toBeUndefined();
    expect((await sharp(upload.bytes!).metadata()).format).toBe('jpeg');
    const update = h.peer.messages.find((m) => m.kind === 'update' && m.ts === root);
    expect(imageFileIds(blocksOf(update))).toEqual([upload.fileId]);
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
    // ONE message in the same thread: text, the new grid as an image block, the buttons. No file
    // message, nothing new at channel level, the root untouched.
    expect(h.peer.uploads.size).toBe(1);
    const upload = [...h.peer.uploads.values()][0]!;
    expect(upload.completed).toBe(true);
    expect(upload.channelId).toBeUndefined();
    expect(sharedUploads(h.peer)).toHaveLength(0);
    expect((await sharp(upload.bytes!).metadata()).format).toBe('jpeg');
    const posted = h.peer.messages.filter((m) => m.kind === 'message');
    expect(posted.length).toBe(1);
    expect(posted[0]!.threadTs).toBe(root);
    const blocks = blocksOf(posted[0]);
    expect(blocks.map((b) => b.type)).toEqual(['section', 'image', 'actions', 'actions']);
    expect(blocks[0]!.text?.text).toContain('only black and white ones');
    expect(imageFileIds(blocks)).toEqual([upload.fileId]);
    expect(buttonIds(blocks)).toEqual(expect.arrayContaining(['is:open:1', 'is:more:4', 'is:reroll']));
    expect(h.peer.messages.filter((m) => m.kind === 'update')).toHaveLength(0);
  });

  it('a thread reply retries chat.postMessage while the image is not ready', async () => {
    const root = await newThread('kites');
    h.peer.reset();
    h.peer.imageNotReady(1);
    await h.event(h.threadReply(root, 'over the sea'));
    await settled(h);
    const attempts = h.peer.callsOf('chat.postMessage');
    expect(attempts.map((c) => c.error)).toEqual(['invalid_blocks', undefined]);
    expect(attempts.every((c) => c.params.thread_ts === root)).toBe(true);
    const posted = h.peer.messages.filter((m) => m.kind === 'message');
    expect(posted).toHaveLength(1);
    expect(imageFileIds(blocksOf(posted[0]))).toEqual([[...h.peer.uploads.keys()][0]]);
    expect(sharedUploads(h.peer)).toHaveLength(0);
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

  // The three layers that keep one delivery to one answer, each tested alone: the delivery id
  // (event_id, trigger_id) in the adapter's middleware, the message (channel, ts) in the listeners,
  // and the engine's request id. Each scenario below gets past the other two.

  it('delivery id: a retry that arrives after the answer was posted is still dropped', async () => {
    // One key per delivery: a user's message is named by channel and ts (event_id is not used for
    // it, since one message can come as two events). A retry repeats the message, so it is caught
    // however late it comes within the dedupe window.
    h.peer.reset();
    const before = h.handler.requests.length;
    const envelope = h.mention('harbours at dawn') as { event_id: string; event: Record<string, unknown> };
    await h.event(envelope);
    await settled(h);
    await h.event(envelope, { retryNum: 1 });
    await settled(h);
    expect(h.handler.requests.length - before).toBe(1);
    const roots = h.peer.messages.filter((m) => m.kind === 'message' && m.threadTs === undefined);
    expect(roots).toHaveLength(1);
  });

  it('delivery id: a repeated slash command (same trigger_id) is acked empty and never searched twice', async () => {
    h.peer.reset();
    const before = h.handler.requests.length;
    const trigger = `trig.${nextTs()}`;
    const first = await h.command('red kites', { trigger_id: trigger });
    const again = await h.command('red kites', { trigger_id: trigger });
    await settled(h);
    expect(first.body).toContain('Searching for');
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.body).toBe('');
    expect(h.handler.requests.length - before).toBe(1);
    expect(h.peer.messages.filter((m) => m.kind === 'message' && m.threadTs === undefined)).toHaveLength(1);
  });

  it('message: one message delivered twice under different event ids gets one answer', async () => {
    // Two deliveries of one message (same channel and ts) with distinct event_ids: the delivery-id
    // layer and the engine (keyed by event_id) both see two requests; only (channel, ts) joins them.
    h.peer.reset();
    const before = h.handler.requests.length;
    const envelope = h.mention('otters') as { event_id: string; event: Record<string, unknown> };
    await h.event(envelope);
    await h.event({ ...envelope, event_id: `${envelope.event_id}b` });
    await settled(h);
    expect(h.handler.requests.length - before).toBe(1);
    expect(h.peer.messages.filter((m) => m.kind === 'message' && m.threadTs === undefined)).toHaveLength(1);
  });

  it('one message delivered as app_mention and as message gets one answer', async () => {
    // The message listener leaves messages that mention the bot to the app_mention listener.
    const root = await newThread('boats');
    h.peer.reset();
    const before = h.handler.requests.length;
    const ts = nextTs();
    const text = `<@${h.peer.botUserId}> with sails`;
    await h.event(h.threadReply(root, text, { ts, event_ts: ts }));
    await settled(h);
    expect(h.handler.requests.length - before).toBe(0);
    await h.event(h.mention('with sails', { ts, event_ts: ts, thread_ts: root }));
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

describe('slack events: image never ready', () => {
  it('a thread reply falls back to the grid as a file in the thread plus a buttons message', async () => {
    const h = await startHarness({}, undefined, { imageReadyRetryMs: [10, 20] });
    try {
      await h.event(h.mention('windmills'));
      await settled(h);
      const root = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === undefined)!.ts;
      h.peer.reset();
      h.peer.imageNeverReady(true);
      await h.event(h.threadReply(root, 'in the snow'));
      await settled(h);
      // Three refused posts (the configured waits), then the fallback.
      const posts = h.peer.callsOf('chat.postMessage');
      expect(posts.slice(0, 3).map((c) => c.error)).toEqual(Array(3).fill('invalid_blocks'));
      const shared = sharedUploads(h.peer);
      expect(shared).toHaveLength(1);
      expect(shared[0]!.threadTs).toBe(root);
      expect(shared[0]!.initialComment).toContain('in the snow');
      expect((await sharp(shared[0]!.bytes!).metadata()).format).toBe('jpeg');
      const posted = h.peer.messages.filter((m) => m.kind === 'message');
      expect(posted).toHaveLength(1);
      expect(posted[0]!.threadTs).toBe(root);
      expect(imageFileIds(blocksOf(posted[0]))).toEqual([]);
      expect(buttonIds(blocksOf(posted[0]))).toContain('is:open:1');
      expect([...h.peer.uploads.values()].find((u) => u.channelId === undefined)?.deleted).toBe(true);
    } finally {
      await h.close();
    }
  });
});
