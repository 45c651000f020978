/**
 * One Slack request end to end: thread root, conversation id, optional image download, the core
 * handler, delivery, and the friendly-error boundary. Requests in the same thread run in order.
 */
import type { webApi } from '@slack/bolt';
import { asImageSearchError } from '../../src/core/errors.ts';
import type { ConversationHandler, SearchAction, SearchRequest } from '../../src/core/types.ts';
import type { Logger } from '../../src/util/logger.ts';
import { TtlDedupe } from './dedupe.ts';
import { type DownloadPolicy, downloadSlackImage, type SlackFileRef } from './download.ts';
import { KeyedSerialQueue, Semaphore } from './ordering.ts';
import { deliverError, deliverReply, postPlaceholder, slackErrorCode, type ThreadTarget } from './replies.ts';

/** One normalised Slack request, before it has a conversation id. */
export interface SlackJob {
  client: webApi.WebClient;
  teamId: string;
  channel: string;
  /** Slack user id without prefix. */
  userId: string;
  /** Delivery id (event_id, trigger_id) passed to the core for its own de-duplication. */
  requestId: string;
  text?: string;
  file?: SlackFileRef;
  action?: SearchAction;
  /** Existing thread root to answer in; absent means "start a new result thread in the channel". */
  threadTs?: string;
  followUp: boolean;
  /** Slash commands only: reaches the user even where the bot cannot post (response_url). */
  respond?: (text: string) => Promise<void>;
}

export interface SearchFlowDeps {
  handler: ConversationHandler;
  logger: Logger;
  download: DownloadPolicy;
  /** Replies built at once (the rest wait their turn, in order); default 8. */
  maxConcurrentJobs?: number;
  /** Waits between attempts while Slack refuses the grid's image block as not ready (see replies.ts). */
  imageReadyRetryMs?: readonly number[];
  /** Metrics hook (AdapterDeps.observeUpload): told how long delivering a grid or photo took. */
  observeUpload?: ((seconds: number, ok: boolean) => void) | undefined;
}

/** Conversation ids are platform-prefixed so every platform shares one state store. */
export function slackConversationId(teamId: string, channel: string, threadTs: string): string {
  return `slack:${teamId}:${channel}:${threadTs}`;
}

/** Slack API error codes that mean "the bot cannot post here" — the user can fix those. */
const NOT_HERE = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action']);

function friendly(e: unknown): string {
  const code = slackErrorCode(e);
  if (code && NOT_HERE.has(code)) {
    return "I can't post here yet. In a channel, invite me with `/invite @imagesearch`, then try again.";
  }
  return asImageSearchError(e).userMessage;
}

export class SearchFlow {
  readonly #deps: SearchFlowDeps;
  readonly #queue = new KeyedSerialQueue();
  readonly #slots: Semaphore;
  readonly #inflight = new Set<Promise<void>>();
  /** Threads that hold our results; un-mentioned replies there are refinements. */
  readonly #threads = new TtlDedupe({ ttlMs: 7 * 24 * 3600_000, maxKeys: 100_000 });
  readonly #abort = new AbortController();
  #accepting = true;

  constructor(deps: SearchFlowDeps) {
    this.#deps = deps;
    this.#slots = new Semaphore(deps.maxConcurrentJobs ?? 8);
  }

  /** True when this process answered in that thread (parent_user_id covers the rest, see listeners). */
  isResultThread(channel: string, threadTs: string): boolean {
    return this.#threads.has(`${channel}:${threadTs}`);
  }

  /** Starts a job in the background; it never rejects (errors end as a friendly message + a log line). */
  submit(job: SlackJob): void {
    if (!this.#accepting) {
      this.#deps.logger.warn({ requestId: job.requestId }, 'slack request dropped: adapter stopping');
      return;
    }
    // Permits are taken in arrival order before a job joins its thread's queue, so replies in one
    // thread keep their order and every job ahead in a thread queue already holds a permit.
    const p = this.#slots
      .run(() => this.#run(job))
      .catch((e: unknown) => {
        this.#deps.logger.error(
          { err: e, requestId: job.requestId },
          'slack request failed outside the boundary',
        );
      });
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  /** Stops taking work and waits for in-flight replies; after `timeoutMs` the core is asked to abort. */
  async drain(timeoutMs: number): Promise<void> {
    this.#accepting = false;
    const all = Promise.allSettled([...this.#inflight]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([all, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.#abort.abort(new Error('slack adapter stopping'));
      await all;
    }
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  async #run(job: SlackJob): Promise<void> {
    const { logger } = this.#deps;
    let threadTs = job.threadTs;
    let placeholderTs: string | undefined;
    if (!threadTs) {
      try {
        placeholderTs = await postPlaceholder(job.client, job.channel, job.text ?? '');
        threadTs = placeholderTs;
      } catch (e) {
        logger.warn(
          { err: e, requestId: job.requestId, channel: job.channel },
          'slack: cannot post the result root',
        );
        await job.respond?.(friendly(e)).catch((e2: unknown) => {
          logger.warn({ err: e2, requestId: job.requestId }, 'slack: response_url failed too');
        });
        return;
      }
    }
    this.#threads.firstSeen(`${job.channel}:${threadTs}`);
    const conversationId = slackConversationId(job.teamId, job.channel, threadTs);
    const target: ThreadTarget = { client: job.client, channel: job.channel, threadTs, userId: job.userId };
    if (placeholderTs) target.placeholderTs = placeholderTs;

    await this.#queue.run(conversationId, async () => {
      const started = performance.now();
      try {
        const request: SearchRequest = {
          platform: 'slack',
          conversationId,
          userId: `slack:${job.userId}`,
          requestId: job.requestId,
          followUp: job.followUp,
        };
        if (job.text) request.text = job.text;
        if (job.action) request.action = job.action;
        if (job.file) request.image = await downloadSlackImage(job.file, this.#deps.download);
        const reply = await this.#deps.handler.handle(request, this.#abort.signal);
        const uploading = performance.now();
        const uploads = reply.kind === 'results' || (reply.kind === 'open' && reply.image !== undefined);
        const observe = (ok: boolean) =>
          uploads && this.#deps.observeUpload?.((performance.now() - uploading) / 1000, ok);
        await deliverReply(target, reply, {
          logger,
          ...(this.#deps.imageReadyRetryMs ? { imageReadyRetryMs: this.#deps.imageReadyRetryMs } : {}),
        }).then(
          () => observe(true),
          (e: unknown) => {
            observe(false);
            throw e;
          },
        );
        logger.info(
          {
            conversationId,
            requestId: job.requestId,
            kind: reply.kind,
            ms: Math.round(performance.now() - started),
          },
          'slack reply sent',
        );
      } catch (e) {
        const err = asImageSearchError(e);
        logger.error(
          { err: e, code: err.code, slackError: slackErrorCode(e), conversationId, requestId: job.requestId },
          'slack request failed',
        );
        try {
          await deliverError(target, friendly(e));
        } catch (e2) {
          logger.warn({ err: e2, conversationId }, 'slack: could not deliver the error note');
          await job.respond?.(friendly(e)).catch(() => undefined);
        }
      }
    });
  }
}
