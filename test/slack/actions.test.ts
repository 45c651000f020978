import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blocksOf, type Harness, imageFileIds, settled, sharedUploads, startHarness } from './harness.ts';

describe('slack buttons', () => {
  let h: Harness;
  let root: string;
  beforeAll(async () => {
    h = await startHarness();
    await h.command('sunflowers');
    await settled(h);
    root = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === undefined)!.ts;
  });
  afterAll(async () => {
    await h.close();
  });

  it('"Open 2" is acked at once and posts the full-size photo with credit in the thread', async () => {
    h.peer.reset();
    const before = h.handler.requests.length;
    const res = await h.click('is:open:2', root);
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(3000);
    await settled(h);
    const req = h.handler.requests[before]!;
    expect(req.action).toEqual({ type: 'open', n: 2 });
    expect(req.conversationId).toBe(`slack:T111:C111:${root}`);
    expect(req.userId).toBe('slack:W111');
    // "Open n" stays a file shared into the thread.
    const upload = [...h.peer.uploads.values()][0]!;
    expect(upload.channelId).toBe('C111');
    expect(upload.threadTs).toBe(root);
    expect(upload.initialComment).toContain('Photographer 2');
    expect(upload.initialComment).toContain('https://unsplash.com/photos/photo-2');
    expect((await sharp(upload.bytes!).metadata()).width).toBe(320);
  });

  it('"More like 3" on a reply inside the thread refines the same conversation', async () => {
    h.peer.reset();
    const before = h.handler.requests.length;
    await h.click('is:more:3', '1700009999.000001', { threadTs: root });
    await settled(h);
    const req = h.handler.requests[before]!;
    expect(req.action).toEqual({ type: 'more-like', n: 3 });
    expect(req.conversationId).toBe(`slack:T111:C111:${root}`);
    expect(h.peer.uploads.size).toBe(1);
    const posted = h.peer.messages.filter((m) => m.kind === 'message');
    expect(posted).toHaveLength(1);
    expect(posted[0]!.threadTs).toBe(root);
    expect(imageFileIds(blocksOf(posted[0]))).toEqual([...h.peer.uploads.keys()]);
    expect(sharedUploads(h.peer)).toHaveLength(0);
  });

  it('ignores buttons that are not ours, and a repeated click delivery answers once', async () => {
    const before = h.handler.requests.length;
    const foreign = await h.click('someone-elses-button', root);
    expect(foreign.status).toBe(200);
    await settled(h);
    expect(h.handler.requests.length).toBe(before);

    const replay = { triggerId: 'trig.replayed', actionTs: '1700000001.000001' };
    const first = await h.click('is:reroll', root, replay);
    const again = await h.click('is:reroll', root, replay);
    expect([first.status, again.status]).toEqual([200, 200]);
    await settled(h);
    expect(h.handler.requests.length - before).toBe(1);
    expect(h.handler.requests.at(-1)?.action).toEqual({ type: 'next' });
  });
});
