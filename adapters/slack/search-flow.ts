/**
 * Slack's side of the one request flow (adapters/kit/request-flow.ts): a normalised {@link SlackJob}
 * becomes a flow job whose outbound port posts the thread root ("Searching for …"), renders the
 * reply into that thread (./replies.ts) and tells failures there, or through the slash command's
 * response_url when the bot cannot post in the channel. Dedupe, order, the concurrency limit, the
 * error boundary and delivery timing are the flow's.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from '../../src/core/logger.ts';
import type { SearchAction, SearchRequest } from '../../src/core/types.ts';
import type { FlowJob, RequestFlow } from '../kit/request-flow.ts';
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
  /** Delivery id (event_id, trigger_id) passed to the core, for its logs. */
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
  flow: RequestFlow;
  logger: Logger;
  download: SlackDownloadPolicy;
  /** Threads that hold our results (shared through the state store, see ./thread-registry.ts). */
  threads: ThreadRegistry;
  /** Waits between attempts while Slack refuses the grid's image block as not ready (see replies.ts). */
  imageReadyRetryMs?: readonly number[];
}

/** Conversation ids are platform-prefixed so every platform shares one state store. */
export function slackConversationId(teamId: string, channel: string, threadTs: string): string {
  return `slack:${teamId}:${channel}:${threadTs}`;
}

/** Slack API error codes that mean "the bot cannot post here" — the user can fix those. */
const NOT_HERE = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action']);

function explain(e: unknown): string | undefined {
  const code = slackErrorCode(e);
  return code && NOT_HERE.has(code)
    ? "I can't post here yet. In a channel, invite me with `/invite @imagesearch`, then try again."
    : undefined;
}

/** Slack requests handed to the one request flow. */
export class SearchFlow {
  readonly #deps: SearchFlowDeps;

  constructor(deps: SearchFlowDeps) {
    this.#deps = deps;
  }

  /** True when the bot (any replica) answered in that thread (parent_user_id covers the rest, see listeners). */
  isResultThread(channel: string, threadTs: string): Promise<boolean> {
    return this.#deps.threads.has(channel, threadTs);
  }

  /** Starts a job in the background; it never rejects (errors end as a friendly message + a log line). */
  submit(job: SlackJob): void {
    this.#deps.flow.submit(this.#flowJob(job));
  }

  #flowJob(job: SlackJob): FlowJob {
    const deps = this.#deps;
    const target: ThreadTarget = {
      client: job.client,
      channel: job.channel,
      threadTs: job.threadTs ?? '',
      userId: job.userId,
    };
    const conversation = (threadTs: string) => slackConversationId(job.teamId, job.channel, threadTs);
    const flowJob: FlowJob = {
      context: { requestId: job.requestId, channel: job.channel },
      request: async (conversationId): Promise<SearchRequest> => ({
        platform: 'slack',
        conversationId,
        userId: `slack:${job.userId}`,
        requestId: job.requestId,
        followUp: job.followUp,
        ...(job.text ? { text: job.text } : {}),
        ...(job.action ? { action: job.action } : {}),
        ...(job.file ? { image: await downloadSlackImage(job.file, deps.download) } : {}),
      }),
      port: {
        // A new search roots its own thread: the bot's message, so replies there carry
        // parent_user_id = the bot; the registry also knows it (a mention there refines).
        postPlaceholder: async () => {
          const ts = await postPlaceholder(job.client, job.channel, job.text ?? '');
          target.threadTs = ts;
          target.placeholderTs = ts;
          await deps.threads.add(job.channel, ts);
          return conversation(ts);
        },
        deliver: (reply) =>
          deliverReply(target, reply, {
            logger: deps.logger,
            ...(deps.imageReadyRetryMs ? { imageReadyRetryMs: deps.imageReadyRetryMs } : {}),
          }),
        fail: async (reply) => {
          // Before the root exists there is no thread to write in: only the slash command's response_url.
          if (target.threadTs) {
            try {
              await deliverError(target, reply.text);
              return;
            } catch (e) {
              if (!job.respond) throw e;
            }
          }
          await job.respond?.(reply.text);
        },
        explain,
      },
    };
    if (job.threadTs) {
      const threadTs = job.threadTs;
      flowJob.conversationId = conversation(threadTs);
      // Recorded before the search starts, so a reply typed as soon as the grid shows is recognised anywhere.
      const request = flowJob.request;
      flowJob.request = async (cid) => {
        await deps.threads.add(job.channel, threadTs);
        return request(cid);
      };
    }
    return flowJob;
  }
}
