import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, settled, startHarness } from './harness.ts';

describe('slack /imagesearch', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('acks at once with an ephemeral note, then posts one result thread with the uploaded grid', async () => {
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

    // Upload flow: getUploadURLExternal → bytes → completeUploadExternal, in the root's thread.
    const methods = h.peer.calls.map((c) => c.method);
    expect(methods).not.toContain('files.upload');
    const order = ['files.getUploadURLExternal', 'upload', 'files.completeUploadExternal'].map((m) =>
      methods.indexOf(m),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const [upload] = [...h.peer.uploads.values()];
    expect(upload?.completed).toBe(true);
    expect(upload?.channelId).toBe('C111');
    expect(upload?.threadTs).toBe(root.ts);
    expect(upload?.initialComment).toContain('cats & dogs on a sofa');
    expect(upload?.initialComment).toContain('Photographer 1');
    const meta = await sharp(upload!.bytes!).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBe(256);

    // The root became the result: text plus the buttons.
    const update = h.peer.messages.find((m) => m.kind === 'update' && m.ts === root.ts)!;
    const ids = (update.blocks as { type: string; elements?: { action_id: string }[] }[])
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements ?? [])
      .map((e) => e.action_id);
    expect(ids).toEqual(
      expect.arrayContaining(['is:open:1', 'is:open:4', 'is:more:1', 'is:more:4', 'is:reroll']),
    );
    // Exactly one channel-level message for the search.
    expect(h.peer.messages.filter((m) => m.kind === 'message' && m.threadTs === undefined)).toHaveLength(1);
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
