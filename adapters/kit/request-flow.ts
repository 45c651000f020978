/**
 * The one request flow every chat platform runs. A platform parses its inbound event into a
 * {@link FlowJob} and implements the outbound {@link ReplyPort}; the flow does the rest, the same
 * way everywhere:
 *
 * 1. **Once per delivery** ({@link RequestFlow.firstDelivery}): one claim in the shared
 *    {@link Dedupe} under one key scheme, `req:<platform>|<delivery id>`, before anything is posted.
 *    Platforms whose repeats must be answered (the web chat: the browser waits for a reply) get the
 *    first reply again instead ({@link FlowOptions.replay}, src/conversation/idempotency.ts).
 * 2. **In flight** ({@link InFlight}): a stopping adapter refuses new work and drains the rest.
 * 3. **One concurrency limit**: at most {@link FlowOptions.maxConcurrent} replies are built at once
 *    (MAX_CONCURRENT_SEARCHES); the rest wait in arrival order.
 * 4. **Per-conversation order**: a placeholder roots a new conversation; then each conversation's
 *    requests run one at a time in arrival order, so two quick refinements are answered in order.
 * 5. **The error boundary**: whatever fails (an image download, the core, a delivery) is logged
 *    with its context and ends as a short note to the user; the flow itself never rejects.
 * 6. **Delivery timing**: the upload metric hook is told how long delivering a grid or photo took.
 */
import { Semaphore } from 'async-mutex';
import { DUPLICATE_NOTICE, IdempotencyGuard } from '../../src/conversation/idempotency.ts';
import type { ReplyPort } from '../../src/core/adapter.ts';
import { asImageSearchError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import type {
  BotReply,
  ConversationHandler,
  Dedupe,
  SearchRequest,
  StateStore,
} from '../../src/core/types.ts';
import { MemoryDedupe } from '../../src/state/dedupe.ts';
import { KeyedMutex } from '../../src/util/locks.ts';
import { InFlight } from './in-flight.ts';

/** Replies built at once when the composition root does not say (MAX_CONCURRENT_SEARCHES' default). */
export const DEFAULT_MAX_CONCURRENT = 8;

/** The outbound port every platform implements (its contract lives with the `Adapter` port). */
export type { ReplyPort } from '../../src/core/adapter.ts';

/** One request as a platform hands it to the flow. */
export interface FlowJob {
  /**
   * The platform's id of this delivery (`event:Ev1`, `interaction:123`, `<session>:<request id>`),
   * unique on that platform. Claimed by the flow when {@link FlowOptions.replay} is on; other
   * platforms claim it themselves with {@link RequestFlow.firstDelivery} before parsing further.
   */
  deliveryId?: string | undefined;
  /** The conversation it belongs to, when it has one already (a reply in a result thread). */
  conversationId?: string | undefined;
  /** The core request, built inside the conversation's turn (shared images are downloaded here). */
  request(conversationId: string): Promise<SearchRequest> | SearchRequest;
  port: ReplyPort;
  /** Aborts the core's work early (the web chat's client went away). */
  signal?: AbortSignal | undefined;
  /** Logged with every line about this job. */
  context?: Record<string, unknown>;
}

/** Options of {@link RequestFlow}. */
export interface FlowOptions {
  platform: SearchRequest['platform'];
  handler: ConversationHandler;
  logger: Logger;
  /** The shared idempotency keys (the state store's); default: this process's own. */
  dedupe?: Dedupe | undefined;
  /** MAX_CONCURRENT_SEARCHES: replies built at once; the rest wait in arrival order. Default 8. */
  maxConcurrent?: number | undefined;
  /**
   * Repeats get the first reply again instead of being dropped (the web chat). `state` and
   * `shareReplies` let a repeat that reaches another replica find it.
   */
  replay?: { state: StateStore; shareReplies: boolean } | undefined;
  /** Metrics hook (AdapterDeps.observeUpload): how long delivering a grid or photo took. */
  observeUpload?: ((seconds: number, ok: boolean) => void) | undefined;
  /** What of an error may be logged (Discord's scrubs its token from REST errors); default all. */
  loggable?: ((error: unknown) => unknown) | undefined;
}

/** True when delivering `reply` uploads a picture (the upload metric times it). */
const uploads = (reply: BotReply) =>
  reply.kind === 'results' || (reply.kind === 'open' && reply.image !== undefined);

/** A first delivery that ended in the boundary: no reply for its repeats to share. */
class NoReply extends Error {}

/** See the file comment. One per adapter. */
export class RequestFlow {
  readonly #o: FlowOptions;
  readonly #log: Logger;
  readonly #guard: IdempotencyGuard;
  readonly #inflight = new InFlight();
  readonly #order = new KeyedMutex();
  readonly #slots: Semaphore;

  constructor(opts: FlowOptions) {
    this.#o = opts;
    this.#log = opts.logger;
    this.#slots = new Semaphore(Math.max(1, Math.floor(opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT)));
    this.#guard = new IdempotencyGuard({
      dedupe: opts.dedupe ?? new MemoryDedupe(),
      ...(opts.replay ? { state: opts.replay.state, shareReplies: opts.replay.shareReplies } : {}),
    });
  }

  /** False once a drain began. */
  get accepting(): boolean {
    return this.#inflight.accepting;
  }

  /** Requests still being answered. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /**
   * True the first time this delivery is seen on this platform (across replicas when the store is
   * shared); a repeat is logged as `<platform>: duplicate delivery ignored`.
   */
  async firstDelivery(deliveryId: string, context: Record<string, unknown> = {}): Promise<boolean> {
    if ((await this.#guard.claim({ platform: this.#o.platform, deliveryId })).first) return true;
    this.#log.info({ deliveryId, ...context }, `${this.#o.platform}: duplicate delivery ignored`);
    return false;
  }

  /**
   * Tracks an adapter's inbound work (parsing, acks, downloads before a job is submitted) so a drain
   * waits for it too; returns it.
   */
  track<T>(work: Promise<T>): Promise<T> {
    return this.#inflight.track(work);
  }

  /** Runs `job` in the background (tracked for the drain); never rejects. */
  submit(job: FlowJob): void {
    void this.run(job);
  }

  /** Runs `job` to its end (its reply delivered, or its failure told); never rejects. */
  run(job: FlowJob): Promise<void> {
    if (!this.#inflight.accepting) {
      this.#log.warn({ ...job.context }, `${this.#o.platform} request dropped: adapter stopping`);
      return Promise.resolve();
    }
    return this.#inflight.track(
      this.#replayOrRun(job).catch((e: unknown) => {
        this.#log.error(
          { err: e, ...job.context },
          `${this.#o.platform} request failed outside the boundary`,
        );
      }),
    );
  }

  /** Stops taking work and waits for in-flight replies; after `timeoutMs` the core is asked to abort. */
  drain(timeoutMs: number): Promise<void> {
    return this.#inflight.drain(timeoutMs);
  }

  /** Takes work again (an adapter started anew). */
  resume(): void {
    this.#inflight.resume();
  }

  #loggable(e: unknown): unknown {
    return this.#o.loggable ? this.#o.loggable(e) : e;
  }

  async #replayOrRun(job: FlowJob): Promise<void> {
    const { replay } = this.#o;
    if (!replay || !job.deliveryId) {
      await this.#slots.runExclusive(() => this.#run(job));
      return;
    }
    const ref = { platform: this.#o.platform, deliveryId: job.deliveryId };
    let delivered = false;
    // The first delivery answers (and delivers) inside #run; a repeat in this process shares its
    // reply, one on another replica finds it in the store or is told "already on it".
    const reply = await this.#guard
      .once(ref, async () => {
        const claim = await this.#guard.claim(ref);
        if (!claim.first) return claim.reply ?? DUPLICATE_NOTICE;
        let answer: BotReply | undefined;
        await this.#slots.runExclusive(() =>
          this.#run(job, (r) => {
            answer = r;
            delivered = true;
          }),
        );
        // Failed before the core answered: the boundary told the user; nothing to share.
        if (!answer) throw new NoReply();
        await this.#guard.remember(ref, answer);
        return answer;
      })
      .catch((e: unknown) => {
        if (e instanceof NoReply) return undefined;
        throw e;
      });
    if (reply && !delivered) await this.#deliver(job, reply);
  }

  async #run(job: FlowJob, answered?: (reply: BotReply) => void): Promise<void> {
    let conversationId = job.conversationId;
    if (!conversationId) {
      try {
        conversationId = await this.#placeholder(job);
      } catch (e) {
        await this.#fail(job, e, 'request failed: cannot post the placeholder');
        return;
      }
    }
    const cid = conversationId;
    await this.#order.run(cid, async () => {
      const started = performance.now();
      const context = { conversationId: cid, ...job.context };
      try {
        const request = await job.request(cid);
        const reply = await this.#o.handler.handle(request, job.signal ?? this.#inflight.signal);
        answered?.(reply);
        await this.#deliver(job, reply);
        this.#log.info(
          { ...context, kind: reply.kind, ms: Math.round(performance.now() - started) },
          `${this.#o.platform} reply sent`,
        );
      } catch (e) {
        await this.#fail({ ...job, context }, e, 'request failed');
      }
    });
  }

  #placeholder(job: FlowJob): Promise<string> {
    if (!job.port.postPlaceholder) throw new Error('a job without a conversation needs postPlaceholder');
    return job.port.postPlaceholder();
  }

  async #deliver(job: FlowJob, reply: BotReply): Promise<void> {
    const started = performance.now();
    const timed = uploads(reply);
    try {
      await job.port.deliver(reply);
      if (timed) this.#o.observeUpload?.((performance.now() - started) / 1000, true);
    } catch (e) {
      if (timed) this.#o.observeUpload?.((performance.now() - started) / 1000, false);
      throw e;
    }
  }

  /** The boundary: log the failure with its context, then tell the user in a short note. */
  async #fail(job: FlowJob, e: unknown, what: string): Promise<void> {
    const err = asImageSearchError(e);
    const text = job.port.explain?.(e) ?? err.userMessage;
    const level = err.code === 'internal' ? 'error' : 'warn';
    this.#log[level](
      { err: this.#loggable(e), code: err.code, ...job.context },
      `${this.#o.platform} ${what}`,
    );
    try {
      await job.port.fail({ kind: 'notice', level: 'warn', text }, e);
    } catch (e2) {
      this.#log.warn(
        { err: this.#loggable(e2), ...job.context },
        `${this.#o.platform}: could not deliver the error note`,
      );
    }
  }
}
