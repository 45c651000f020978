/**
 * One Slack request end to end: thread root, conversation id, optional image download, the core
 * handler, delivery, and the friendly-error boundary. Requests in the same thread run in order.
 */
import type { webApi } from '@slack/bolt';
import { Semaphore } from 'async-mutex';
import { asImageSearchError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { ConversationHandler, SearchAction, SearchRequest } from '../../src/core/types.ts';
import { KeyedMutex } from '../../src/util/locks.ts';
import { InFlight } from '../kit/in-flight.ts';
import { downloadSlackImage, type SlackDownloadPolicy, type SlackFileRef } from './files.ts';
import { deliverError, deliverReply, postPlaceholder, slackErrorCode, type ThreadTarget } from './replies.ts';
import type { ThreadRegistry } from './thread-registry.ts';

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
  download: SlackDownloadPolicy;
  /** Threads that hold our results (shared through the state store, see ./thread-registry.ts). */
  threads: ThreadRegistry;
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

/**
 * Acks are answered on the same event loop as the work that follows them, so the number of replies
 * being built at once is bounded: a burst of commands then queues its searches instead of starving
 * the acks of later commands (Slack's 3-second limit).
 */
export class SearchFlow {
  readonly #deps: SearchFlowDeps;
  /** One queue per thread: two quick refinements are answered in the order they were typed. */
  readonly #threadOrder = new KeyedMutex();
  /** Replies built at once; waiters are served first come, first served. */
  readonly #slots: Semaphore;
  readonly #inflight = new InFlight();

  constructor(deps: SearchFlowDeps) {
    this.#deps = deps;
    this.#slots = new Semaphore(Math.max(1, Math.floor(deps.maxConcurrentJobs ?? 8)));
  }

  /** True when the bot (any replica) answered in that thread (parent_user_id covers the rest, see listeners). */
  isResultThread(channel: string, threadTs: string): Promise<boolean> {
    return this.#deps.threads.has(channel, threadTs);
  }

  /** Starts a job in the background; it never rejects (errors end as a friendly message + a log line). */
  submit(job: SlackJob): void {
    if (!this.#inflight.accepting) {
      this.#deps.logger.warn({ requestId: job.requestId }, 'slack request dropped: adapter stopping');
      return;
    }
    // Permits are taken in arrival order before a job joins its thread's queue, so replies in one
    // thread keep their order and every job ahead in a thread queue already holds a permit.
    void this.#inflight.track(
      this.#slots
        .runExclusive(() => this.#run(job))
        .catch((e: unknown) => {
          this.#deps.logger.error(
            { err: e, requestId: job.requestId },
            'slack request failed outside the boundary',
          );
        }),
    );
  }

  /** Stops taking work and waits for in-flight replies; after `timeoutMs` the core is asked to abort. */
  drain(timeoutMs: number): Promise<void> {
    return this.#inflight.drain(timeoutMs);
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
    // Recorded before the search starts, so a reply typed as soon as the grid shows is recognised anywhere.
    await this.#deps.threads.add(job.channel, threadTs);
    const conversationId = slackConversationId(job.teamId, job.channel, threadTs);
    const target: ThreadTarget = { client: job.client, channel: job.channel, threadTs, userId: job.userId };
    if (placeholderTs) target.placeholderTs = placeholderTs;

    await this.#threadOrder.run(conversationId, async () => {
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
        const reply = await this.#deps.handler.handle(request, this.#inflight.signal);
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
