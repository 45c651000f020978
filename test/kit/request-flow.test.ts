/**
 * The one request flow (adapters/kit/request-flow.ts) with the real conversation engine behind it
 * and a port that records what it was asked to post: once per delivery (the assertions that lived
 * in the engine's tests before the flow owned dedupe), per-conversation order, the one concurrency
 * limit, the error boundary and the drain. Each platform's own test shows the same through its SDK.
 */
import { describe, expect, it } from 'vitest';
import { RequestFlow } from '../../adapters/kit/request-flow.ts';
import { MSG } from '../../src/conversation/messages.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import type { BotReply, ConversationHandler, SearchRequest } from '../../src/core/types.ts';
import { createStateStore } from '../../src/state/state-store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { conversationHarness, results } from '../support/conversation.ts';
import { tempDir } from '../support/fixtures.ts';
import { createMemorySearchService } from '../support/memory-search.ts';

/** A port that keeps what it delivered and what failures it told. */
function recordingPort() {
  const delivered: BotReply[] = [];
  const failed: string[] = [];
  return {
    delivered,
    failed,
    port: {
      deliver: async (reply: BotReply) => {
        delivered.push(reply);
      },
      fail: async (reply: BotReply) => {
        failed.push(reply.text);
      },
    },
  };
}

const webRequest = (conversationId: string, text: string) => (): SearchRequest => ({
  platform: 'web',
  conversationId,
  userId: conversationId,
  text,
});

const memoryState = () =>
  createStateStore({ url: 'memory://', dataDir: tempDir(), ttlMs: 60_000, logger: silentLogger() });

describe('request flow: once per delivery', () => {
  it('a repeated delivery gets the same reply without searching again (web: replayed)', async () => {
    const search = createMemorySearchService({ delayMs: 30 });
    const { engine, state } = conversationHarness(search);
    const flow = new RequestFlow({
      platform: 'web',
      handler: engine,
      logger: silentLogger(),
      replay: { state, shareReplies: false },
    });
    const ports = [recordingPort(), recordingPort(), recordingPort()];
    const job = (i: number) => ({
      deliveryId: 's1:Ev1',
      conversationId: 'web:s1',
      request: webRequest('web:s1', 'cat'),
      port: ports[i]!.port,
    });
    await Promise.all([flow.run(job(0)), flow.run(job(1))]);
    await flow.run(job(2));
    const [a, b, c] = ports.map((p) => p.delivered);
    expect(a).toHaveLength(1);
    expect(b?.[0]).toBe(a?.[0]);
    expect(c?.[0]).toBe(a?.[0]);
    expect(search.queries).toHaveLength(1);
  });

  it('a platform that posts its answers drops the repeat: nothing is delivered twice', async () => {
    const { engine, search } = conversationHarness();
    const flow = new RequestFlow({ platform: 'slack', handler: engine, logger: silentLogger() });
    expect(await flow.firstDelivery('event:Ev1')).toBe(true);
    expect(await flow.firstDelivery('event:Ev1')).toBe(false);
    expect(search.queries).toHaveLength(0);
  });

  it('one key scheme: the same delivery id on two platforms is two deliveries', async () => {
    const { engine } = conversationHarness();
    const state = memoryState();
    const on = (platform: 'web' | 'slack') =>
      new RequestFlow({ platform, handler: engine, logger: silentLogger(), dedupe: state.dedupe });
    expect(await on('web').firstDelivery('same-id-1')).toBe(true);
    expect(await on('slack').firstDelivery('same-id-1')).toBe(true);
    expect(await on('slack').firstDelivery('same-id-1')).toBe(false);
  });

  it('a repeat that reaches another replica gets the first reply when replies are shared, without searching again', async () => {
    const search = createMemorySearchService();
    const state = memoryState();
    const replica = (shareReplies: boolean) =>
      new RequestFlow({
        platform: 'web',
        handler: conversationHarness(search, { state }).engine,
        logger: silentLogger(),
        dedupe: state.dedupe,
        replay: { state, shareReplies },
      });
    const job = (deliveryId: string, port: ReturnType<typeof recordingPort>) => ({
      deliveryId,
      conversationId: 'web:s9',
      request: webRequest('web:s9', 'cat'),
      port: port.port,
    });
    const first = recordingPort();
    const again = recordingPort();
    await replica(true).run(job('s9:twice-1', first));
    await replica(true).run(job('s9:twice-1', again));
    const [a] = first.delivered;
    const [b] = again.delivered;
    expect(results(b!).reply.picks.map((p) => p.id)).toEqual(results(a!).reply.picks.map((p) => p.id));
    expect(results(b!).reply.grid.equals(results(a!).reply.grid)).toBe(true);
    expect(search.queries).toHaveLength(1);
    // Without shared replies the other replica still never runs it twice: it says so.
    const other = [recordingPort(), recordingPort()];
    await replica(false).run(job('s9:twice-2', other[0]!));
    await replica(false).run(job('s9:twice-2', other[1]!));
    expect(other[1]?.delivered).toEqual([
      { kind: 'notice', text: MSG.duplicate, level: 'info', ephemeral: true },
    ]);
    expect(search.queries).toHaveLength(2);
  });
});

/** A handler that answers each request when the test says so, recording the order it was asked in. */
function gatedHandler() {
  const asked: string[] = [];
  const gates = new Map<string, () => void>();
  const handler: ConversationHandler = {
    handle: async (request) => {
      asked.push(request.text ?? '');
      await new Promise<void>((resolve) => gates.set(request.text ?? '', resolve));
      return { kind: 'notice', level: 'info', text: `answer to ${request.text}` };
    },
  };
  const open = (text: string) => gates.get(text)?.();
  return { handler, asked, open, waiting: () => [...gates.keys()] };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('request flow: order, limit, boundary, drain', () => {
  it('two requests in one conversation are answered in arrival order; other conversations run alongside', async () => {
    const g = gatedHandler();
    const flow = new RequestFlow({ platform: 'discord', handler: g.handler, logger: silentLogger() });
    const port = recordingPort();
    const job = (cid: string, text: string) => ({
      conversationId: cid,
      request: webRequest(cid, text),
      port: port.port,
    });
    const all = [flow.run(job('c1', 'first')), flow.run(job('c1', 'second')), flow.run(job('c2', 'other'))];
    await tick();
    // The second request of c1 waits for the first; c2 does not.
    expect(g.asked).toEqual(['first', 'other']);
    g.open('other');
    g.open('first');
    await tick();
    expect(g.asked).toEqual(['first', 'other', 'second']);
    g.open('second');
    await Promise.all(all);
    expect(port.delivered.map((r) => r.text)).toEqual([
      'answer to other',
      'answer to first',
      'answer to second',
    ]);
  });

  it('builds at most maxConcurrent replies at once; the rest wait their turn', async () => {
    const g = gatedHandler();
    const flow = new RequestFlow({
      platform: 'web',
      handler: g.handler,
      logger: silentLogger(),
      maxConcurrent: 2,
    });
    const port = recordingPort();
    const runs = ['a', 'b', 'c'].map((t) =>
      flow.run({ conversationId: t, request: webRequest(t, t), port: port.port }),
    );
    await tick();
    expect(g.asked).toEqual(['a', 'b']);
    g.open('a');
    await tick();
    expect(g.asked).toEqual(['a', 'b', 'c']);
    g.open('b');
    g.open('c');
    await Promise.all(runs);
    expect(port.delivered).toHaveLength(3);
  });

  it('a failure anywhere becomes the short note the port is told, never a rejection', async () => {
    const handler: ConversationHandler = {
      handle: async () => {
        throw new ImageSearchError('busy', 'I am busy right now.');
      },
    };
    const flow = new RequestFlow({ platform: 'web', handler, logger: silentLogger() });
    const port = recordingPort();
    await flow.run({ conversationId: 'c', request: webRequest('c', 'x'), port: port.port });
    await flow.run({
      request: webRequest('c', 'x'),
      port: { ...port.port, postPlaceholder: () => Promise.reject(new Error('not_in_channel')) },
    });
    expect(port.failed).toEqual([
      'I am busy right now.',
      'Something went wrong on our side. Please try again.',
    ]);
  });

  it('times delivering a grid for the upload metric, ok or not', async () => {
    const { engine } = conversationHarness();
    const seen: boolean[] = [];
    const flow = new RequestFlow({
      platform: 'web',
      handler: engine,
      logger: silentLogger(),
      observeUpload: (_s, ok) => seen.push(ok),
    });
    await flow.run({ conversationId: 'c', request: webRequest('c', 'cat'), port: recordingPort().port });
    const broken = { ...recordingPort().port, deliver: () => Promise.reject(new Error('upload refused')) };
    await flow.run({ conversationId: 'c', request: webRequest('c', 'dog'), port: broken });
    expect(seen).toEqual([true, false]);
  });

  it('a drain waits for work under way and refuses new work', async () => {
    const g = gatedHandler();
    const flow = new RequestFlow({ platform: 'slack', handler: g.handler, logger: silentLogger() });
    const port = recordingPort();
    const running = flow.run({ conversationId: 'c', request: webRequest('c', 'a'), port: port.port });
    await tick();
    const drained = flow.drain(5000);
    expect(flow.accepting).toBe(false);
    await flow.run({ conversationId: 'c', request: webRequest('c', 'late'), port: port.port });
    g.open('a');
    await Promise.all([running, drained]);
    expect(g.asked).toEqual(['a']);
    expect(port.delivered).toHaveLength(1);
  });
});
