/**
 * Per-conversation order through Bolt and the local Slack peer: two quick refinements in one
 * result thread are answered in the order they were typed, although the first takes longer to
 * search (the one request flow queues a conversation's requests, adapters/kit/request-flow.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, settled, startHarness } from './harness.ts';

describe('Slack: one conversation, answered in order', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('two quick refinements in one thread are answered in the order they were typed', async () => {
    await h.event(h.mention('cats'));
    await settled(h);
    const root = h.peer.messages.find((m) => m.kind === 'message' && m.threadTs === undefined)!.ts;

    // The first refinement searches slowly, the second at once: without per-thread order the
    // second answer would be posted first.
    h.handler.options = { delayFor: (r) => (r.text === 'first refinement' ? 300 : 0) };
    try {
      await h.event(h.threadReply(root, 'first refinement'));
      await h.event(h.threadReply(root, 'second refinement'));
      await settled(h);
    } finally {
      h.handler.options = {};
    }
    const answers = h.peer.messages
      .filter((m) => m.kind === 'message' && m.threadTs === root)
      .map((m) => /“(.*?)”/.exec(m.text ?? '')?.[1]);
    expect(answers).toEqual(['first refinement', 'second refinement']);
    expect(h.handler.requests.slice(-2).map((r) => [r.text, r.conversationId])).toEqual([
      ['first refinement', `slack:T111:C111:${root}`],
      ['second refinement', `slack:T111:C111:${root}`],
    ]);
  });
});
