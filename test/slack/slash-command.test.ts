import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blocksOf,
  buttonIds,
  type Harness,
  imageFileIds,
  settled,
  sharedUploads,
  startHarness,
} from './harness.ts';

describe('slack /imagesearch', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('acks at once with an ephemeral note, then edits the root into one message: text, grid image, buttons', async () => {
    h.peer.reset();
    const res = await h.command('cats &amp; dogs on a <https://example.com/sofa|sofa> <@U999>');
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(3000);
    const ack = JSON.parse(res.body) as { response_type: string; text: string };
    expect(ack.response_type).toBe('ephemeral');
    expect(ack.text).toContain('Searching for');
    await settled(h);

    // The core saw clean text and a thread-root conversation id.
    const req = h.handler.requests.at(-1)!;
    expect(req.text).toBe('cats & dogs on a sofa');
    expect(req.followUp).toBe(false);
    expect(req.userId).toBe('slack:W111');
    const root = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === undefined)!;
    expect(req.conversationId).toBe(`slack:T111:C111:${root.ts}`);

    // Upload flow: getUploadURLExternal → bytes → completeUploadExternal, completed WITHOUT a channel.
    const methods = h.peer.calls.map((c) => c.method);
    expect(methods).not.toContain('files.upload');
    const order = ['files.getUploadURLExternal', 'upload', 'files.completeUploadExternal'].map((m) =>
      methods.indexOf(m),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(h.peer.callsOf('files.completeUploadExternal')[0]?.params.channel_id).toBeUndefined();
    expect(h.peer.uploads.size).toBe(1);
    const [upload] = [...h.peer.uploads.values()];
    expect(upload?.completed).toBe(true);
    expect(upload?.channelId).toBeUndefined();
    expect(upload?.threadTs).toBeUndefined();
    expect(upload?.initialComment).toBeUndefined();
    const meta = await sharp(upload!.bytes!).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBe(256);
    // Nothing was shared as a separate file message, in the channel or in the thread.
    expect(sharedUploads(h.peer)).toHaveLength(0);

    // The root became the one result message: text with query and credits, the grid, the buttons.
    const updates = h.peer.messages.filter((m) => m.kind === 'update');
    expect(updates).toHaveLength(1);
    const update = updates[0]!;
    expect(update.ts).toBe(root.ts);
    const blocks = blocksOf(update);
    expect(blocks.map((b) => b.type)).toEqual(['section', 'image', 'actions', 'actions']);
    expect(blocks[0]!.text?.text).toContain('cats &amp; dogs on a sofa');
    expect(blocks[0]!.text?.text).toContain('Photographer 1');
    expect(imageFileIds(blocks)).toEqual([upload!.fileId]);
    expect(blocks[1]!.alt_text).toContain('numbered 1 to 4');
    expect(buttonIds(blocks)).toEqual(
      expect.arrayContaining(['is:open:1', 'is:open:4', 'is:more:1', 'is:more:4', 'is:reroll']),
    );
    // Exactly one message for the search, at channel level; nothing in its thread; no orphan deleted.
    expect(h.peer.messages.filter((m) => m.kind === 'message')).toEqual([root]);
    expect(h.peer.callsOf('files.delete')).toHaveLength(0);
    expect(h.peer.calls.filter((c) => c.error)).toEqual([]);
  });

  it('retries the edit while Slack refuses the image as not processed yet (invalid_blocks)', async () => {
    h.peer.reset();
    h.peer.imageNotReady(2);
    await h.command('harbour at dawn');
    await settled(h);
    const root = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === undefined)!;
    const attempts = h.peer.callsOf('chat.update');
    expect(attempts.map((c) => c.error)).toEqual(['invalid_blocks', 'invalid_blocks', undefined]);
    // Backoff: about 250 ms, then 500 ms.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(200);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(450);
    // Every attempt named the same, single upload.
    const [upload] = [...h.peer.uploads.values()];
    for (const a of attempts) expect(imageFileIds(JSON.parse(a.params.blocks!))).toEqual([upload!.fileId]);
    const update = h.peer.messages.find((m) => m.kind === 'update')!;
    expect(update.ts).toBe(root.ts);
    expect(imageFileIds(blocksOf(update))).toEqual([upload!.fileId]);
    expect(h.peer.uploads.size).toBe(1);
    expect(sharedUploads(h.peer)).toHaveLength(0);
    expect(h.peer.messages.filter((m) => m.kind === 'message')).toHaveLength(1);
  });

  it('falls back to sharing the grid in the thread when the image is still refused after ~4 s', async () => {
    h.peer.reset();
    h.peer.imageNeverReady(true);
    await h.command('foggy bridges');
    await settled(h, 10_000);
    const root = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === undefined)!;
    const attempts = h.peer.callsOf('chat.update');
    // 5 refused edits (waits 250, 500, 1000, 2000 ms), then the edit without the image.
    expect(attempts.map((c) => c.error)).toEqual([...Array(5).fill('invalid_blocks'), undefined]);
    const spent = attempts[4]!.at - attempts[0]!.at;
    expect(spent).toBeGreaterThanOrEqual(3_700);
    expect(spent).toBeLessThan(5_000);

    // The grid still reaches the user: shared into the root's thread with query and credits…
    const shared = sharedUploads(h.peer);
    expect(shared).toHaveLength(1);
    expect(shared[0]!.channelId).toBe('C111');
    expect(shared[0]!.threadTs).toBe(root.ts);
    expect(shared[0]!.initialComment).toContain('foggy bridges');
    expect(shared[0]!.initialComment).toContain('Photographer 1');
    expect((await sharp(shared[0]!.bytes!).metadata()).format).toBe('jpeg');
    // …the root keeps text and buttons without the image block…
    const update = h.peer.messages.find((m) => m.kind === 'update')!;
    expect(update.ts).toBe(root.ts);
    expect(imageFileIds(blocksOf(update))).toEqual([]);
    expect(buttonIds(blocksOf(update))).toContain('is:open:1');
    // …and the unused private upload is deleted.
    const privateUpload = [...h.peer.uploads.values()].find((u) => u.channelId === undefined)!;
    expect(privateUpload.deleted).toBe(true);
    expect(h.peer.messages.filter((m) => m.kind === 'message')).toHaveLength(1);
  });

  it('answers an empty command or "help" with ephemeral help and no search', async () => {
    const before = h.handler.requests.length;
    for (const text of ['', '  ', 'help']) {
      const res = await h.command(text);
      expect(res.status).toBe(200);
      const ack = JSON.parse(res.body) as { response_type: string; text: string };
      expect(ack.response_type).toBe('ephemeral');
      expect(ack.text).toContain('/imagesearch');
    }
    await settled(h);
    expect(h.handler.requests.length).toBe(before);
  });

  it('tells the user through response_url when it cannot post in the channel', async () => {
    h.peer.reset();
    h.peer.failNext('chat.postMessage', 'not_in_channel');
    const res = await h.command('mountains');
    expect(res.status).toBe(200);
    const note = await h.peer.waitFor(() => h.peer.responses.at(-1));
    expect(note.body.response_type).toBe('ephemeral');
    expect(String(note.body.text)).toContain('/invite');
  });

  it('a notice for a new search edits the root; an ephemeral one goes to the asker and removes the root', async () => {
    h.peer.reset();
    h.handler.options = { reply: { kind: 'notice', level: 'warn', text: 'Nothing matched “zzzz”.' } };
    try {
      await h.command('zzzz');
      await settled(h);
      const root = h.peer.messages.find((m) => m.kind === 'message')!;
      const update = h.peer.messages.find((m) => m.kind === 'update')!;
      expect(update.ts).toBe(root.ts);
      expect(update.text).toContain('Nothing matched');
      expect(h.peer.uploads.size).toBe(0);

      h.peer.reset();
      h.handler.options = {
        reply: { kind: 'notice', level: 'error', text: 'Too many searches, wait a minute.', ephemeral: true },
      };
      await h.command('again');
      await settled(h);
      const placeholder = h.peer.messages.find((m) => m.kind === 'message')!;
      const note = h.peer.messages.find((m) => m.kind === 'ephemeral')!;
      expect(note.user).toBe('W111');
      expect(note.threadTs).toBeUndefined();
      expect(note.text).toContain('Too many searches');
      expect(h.peer.messages.find((m) => m.kind === 'delete')?.ts).toBe(placeholder.ts);
    } finally {
      h.handler.options = {};
    }
  });
});
