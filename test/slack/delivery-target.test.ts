/**
 * Slack delivery against a peer that, like Slack, refuses messages that do not exist and blocks
 * over Block Kit's limits: the result must land on the very message it was meant for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blocksOf, type Harness, imageFileIds, settled, startHarness } from './harness.ts';

describe('slack delivery lands on the right message', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('a slash command edits its own root placeholder: same channel, same ts, grid and buttons', async () => {
    h.peer.reset();
    await h.command('red kites');
    await settled(h);
    const root = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === undefined)!;
    expect(root.channel).toBe('C111');
    const updates = h.peer.callsOf('chat.update');
    expect(updates.length).toBeGreaterThan(0);
    for (const u of updates)
      expect([u.params.channel, u.params.ts, u.error]).toEqual(['C111', root.ts, undefined]);
    // The message as it stands in the channel now is the result, not the "Searching…" placeholder.
    const now = h.peer.messageAt('C111', root.ts)!;
    expect(now.text).toContain('red kites');
    expect(now.text).not.toMatch(/Searching/);
    expect(imageFileIds(blocksOf({ ...root, blocks: now.blocks }))).toEqual([...h.peer.uploads.keys()]);
    expect(h.peer.calls.filter((c) => c.error)).toEqual([]);
  });

  it('a command from a channel the bot cannot see is answered privately through response_url', async () => {
    h.peer.reset();
    const before = h.handler.requests.length;
    await h.command('owls', { channel_id: 'C0NOTJOINED' });
    await settled(h);
    expect(h.peer.callsOf('chat.postMessage').map((c) => c.error)).toEqual(['channel_not_found']);
    expect(h.handler.requests.length).toBe(before);
    expect(h.peer.responses).toHaveLength(1);
    expect(String(h.peer.responses[0]!.body.text)).toContain('invite me');
  });

  it('a very long query still fits Block Kit: every call is accepted', async () => {
    h.peer.reset();
    await h.command(`${'very long query about lighthouses '.repeat(120)}end`);
    await settled(h);
    expect(h.peer.calls.filter((c) => c.error)).toEqual([]);
    const root = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === undefined)!;
    const now = h.peer.messageAt('C111', root.ts)!;
    expect(now.blocks?.length).toBeGreaterThan(0);
    expect(now.text?.length).toBeLessThanOrEqual(3000);
  });
});
