/**
 * The idempotency guard on its own (src/conversation/idempotency.ts): in-process joins of repeats,
 * the cross-replica claim, and which remembered replies a repeat on another replica may be given.
 * The request flow's tests (test/kit/request-flow.test.ts) cover the guard wired into a conversation.
 */
import { describe, expect, it } from 'vitest';
import {
  DEDUPE_TTL_MS,
  type DeliveryRef,
  IdempotencyGuard,
  idempotencyKey,
} from '../../src/conversation/idempotency.ts';
import type { BotReply, StateStore } from '../../src/core/types.ts';
import { MemoryDedupe } from '../../src/state/dedupe.ts';

/** A state store shared by "replicas": a plain map, so a test can plant what another writer left there. */
function mapState() {
  const entries = new Map<string, { value: unknown; ttlMs: number | undefined }>();
  const state: StateStore = {
    get: async <T>(key: string) => entries.get(key)?.value as T | undefined,
    set: async (key, value, ttlMs) => {
      entries.set(key, { value, ttlMs });
    },
    delete: async (key) => {
      entries.delete(key);
    },
    withLock: (_key, fn) => fn(),
  };
  return { state, entries };
}

/** A web chat delivery: the adapter scopes the client's request id by its session (`s1:r1`). */
const request = (requestId: string | undefined, conversationId = 'web:s1'): DeliveryRef => ({
  platform: 'web',
  deliveryId: requestId === undefined ? undefined : `${conversationId.slice('web:'.length)}:${requestId}`,
});

const notice = (text: string): BotReply => ({ kind: 'notice', text, level: 'info' });

describe('reply lifetime', () => {
  it('duplicate markers and remembered replies live 15 minutes', () => {
    // Slack retries a delivery within about five minutes; a Discord interaction token lives 15
    // minutes, so a replay can come that late. One lifetime for every platform's delivery.
    expect(DEDUPE_TTL_MS).toBe(900_000);
  });
});

describe('idempotencyKey', () => {
  it('names the platform and the delivery id (web: session-scoped); no id, no key', () => {
    expect(idempotencyKey(request('r1'))).toBe('web|s1:r1');
    expect(idempotencyKey(request(undefined))).toBeUndefined();
  });
});

describe('IdempotencyGuard.once (repeats in this process)', () => {
  it('a repeat while the first runs, or after it answered, gets the same reply without running again', async () => {
    const { state } = mapState();
    const guard = new IdempotencyGuard({ dedupe: new MemoryDedupe(), state });
    let runs = 0;
    let finish: (reply: BotReply) => void = () => undefined;
    const work = () => {
      runs++;
      return new Promise<BotReply>((resolve) => {
        finish = resolve;
      });
    };
    const first = guard.once(request('r1'), work);
    const joined = guard.once(request('r1'), work);
    const reply = notice('done');
    finish(reply);
    expect(await first).toBe(reply);
    expect(await joined).toBe(reply);
    expect(await guard.once(request('r1'), work)).toBe(reply);
    expect(runs).toBe(1);
  });

  it('a failed first attempt is not remembered: the retry runs the work again', async () => {
    const { state } = mapState();
    const guard = new IdempotencyGuard({ dedupe: new MemoryDedupe(), state });
    await expect(guard.once(request('r1'), () => Promise.reject(new Error('index offline')))).rejects.toThrow(
      'index offline',
    );
    const retried = notice('found it');
    expect(await guard.once(request('r1'), async () => retried)).toBe(retried);
  });

  it('the same request id in two conversations runs twice, each answered with its own reply', async () => {
    const { state } = mapState();
    const guard = new IdempotencyGuard({ dedupe: new MemoryDedupe(), state });
    const runs: string[] = [];
    const work = (conversation: string) => async () => {
      runs.push(conversation);
      return notice(`reply in ${conversation}`);
    };
    // Concurrently (joins) and afterwards (remembered replies): neither may cross conversations.
    const [a, b] = await Promise.all([
      guard.once(request('r1', 'web:s1'), work('s1')),
      guard.once(request('r1', 'web:s2'), work('s2')),
    ]);
    expect([a, b]).toEqual([notice('reply in s1'), notice('reply in s2')]);
    expect(await guard.once(request('r1', 'web:s2'), work('s2 again'))).toEqual(notice('reply in s2'));
    expect(await guard.once(request('r1', 'web:s1'), work('s1 again'))).toEqual(notice('reply in s1'));
    expect(runs).toEqual(['s1', 's2']);
  });

  it('requests without an id always run', async () => {
    const { state } = mapState();
    const guard = new IdempotencyGuard({ dedupe: new MemoryDedupe(), state });
    let runs = 0;
    const work = async () => notice(`run ${++runs}`);
    expect(await guard.once(request(undefined), work)).toEqual(notice('run 1'));
    expect(await guard.once(request(undefined), work)).toEqual(notice('run 2'));
  });
});

describe('IdempotencyGuard.claim / remember (repeats on other replicas)', () => {
  it("each request id is claimed once; the repeat gets ITS OWN first reply, not another request's", async () => {
    const { state, entries } = mapState();
    const dedupe = new MemoryDedupe();
    const replicaA = new IdempotencyGuard({ dedupe, state, shareReplies: true });
    const replicaB = new IdempotencyGuard({ dedupe, state, shareReplies: true });
    const a = request('r1');
    const b = request('r2');
    expect(await replicaA.claim(a)).toEqual({ first: true });
    expect(await replicaA.claim(b)).toEqual({ first: true });
    await replicaA.remember(a, notice('reply to r1'));
    await replicaA.remember(b, notice('reply to r2'));
    expect(await replicaB.claim(a)).toEqual({ first: false, reply: notice('reply to r1') });
    expect(await replicaB.claim(b)).toEqual({ first: false, reply: notice('reply to r2') });
    // Replies are kept as long as the duplicate markers.
    // Fifteen minutes: Slack and Discord redeliver within that; a day would keep every reply in Redis.
    expect([...entries.values()].map((e) => e.ttlMs)).toEqual([900_000, 900_000]);
  });

  it('a request without an id is always the first delivery', async () => {
    const { state } = mapState();
    const guard = new IdempotencyGuard({ dedupe: new MemoryDedupe(), state, shareReplies: true });
    expect(await guard.claim(request(undefined))).toEqual({ first: true });
    expect(await guard.claim(request(undefined))).toEqual({ first: true });
  });

  it('the same request id in two conversations is two requests', async () => {
    const { state } = mapState();
    const guard = new IdempotencyGuard({ dedupe: new MemoryDedupe(), state, shareReplies: true });
    expect(await guard.claim(request('r1', 'web:s1'))).toEqual({ first: true });
    expect(await guard.claim(request('r1', 'web:s2'))).toEqual({ first: true });
  });

  it('without shared replies a repeat is only told it is one, even if a reply was stored', async () => {
    const { state } = mapState();
    const dedupe = new MemoryDedupe();
    const sharing = new IdempotencyGuard({ dedupe, state, shareReplies: true });
    const local = new IdempotencyGuard({ dedupe, state });
    const req = request('r1');
    expect(await sharing.claim(req)).toEqual({ first: true });
    await sharing.remember(req, notice('first reply'));
    expect(await local.claim(req)).toEqual({ first: false, reply: undefined });
  });

  it('nothing is written to the state store when replies are not shared', async () => {
    const { state, entries } = mapState();
    const guard = new IdempotencyGuard({ dedupe: new MemoryDedupe(), state });
    await guard.remember(request('r1'), notice('first reply'));
    expect(entries.size).toBe(0);
  });

  const repeatFinding = async (stored: unknown) => {
    const { state } = mapState();
    const dedupe = new MemoryDedupe();
    const first = new IdempotencyGuard({ dedupe, state, shareReplies: true });
    const req = request('r1');
    await first.claim(req);
    // What another writer (an older release, a corrupted entry) left under the reply's key.
    await first.remember(req, stored as BotReply);
    return new IdempotencyGuard({ dedupe, state, shareReplies: true }).claim(req);
  };

  it.each([
    ['a results reply', { kind: 'results', text: 'Here are 4 cats', reply: {}, actions: [] }],
    ['an opened image', { kind: 'open', text: 'Image 2', pick: { id: 'img-2' } }],
    ['a notice', { kind: 'notice', text: 'No matches', level: 'info' }],
  ])('a stored reply that is %s is handed to the repeat', async (_what, stored) => {
    expect(await repeatFinding(stored)).toEqual({ first: false, reply: stored });
  });

  it.each([
    ['null', null],
    ['a string', 'Here are 4 cats'],
    ['a number', 42],
    ['an unknown kind', { kind: 'carousel', text: 'Here are 4 cats' }],
    ['a reply without text', { kind: 'notice', level: 'info' }],
    ['a reply whose text is not a string', { kind: 'results', text: 4, reply: {}, actions: [] }],
  ])('a stored value that is %s is not a reply: the repeat gets none', async (_what, stored) => {
    expect(await repeatFinding(stored)).toEqual({ first: false, reply: undefined });
  });
});
