/**
 * Bolt listeners: slash command, app_mention, thread replies, buttons. Each acknowledges first
 * (commands and buttons explicitly, events are acknowledged by Bolt before listeners run), then hands
 * a {@link SlackJob} to the {@link SearchFlow} in the background, so no handler time counts against
 * Slack's 3-second limit.
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { decodeAction } from '../../src/core/actions.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { RequestFlow } from '../kit/request-flow.ts';
import { helpText, mentionsUser, truncate } from '../kit/text.ts';
import { firstImageFile, type SlackFileRef } from './files.ts';
import type { SearchFlow, SlackJob } from './search-flow.ts';
import { cleanSlackText, escapeSlackText } from './text.ts';

export interface ListenerDeps {
  flow: SearchFlow;
  /** The one request flow: its `firstDelivery` drops repeats here, before anything is posted. */
  requests: RequestFlow;
  logger: Logger;
  /** Slash command name, `/imagesearch` unless the app manifest says otherwise. */
  command: string;
}

export const HELP_TEXT = helpText('`/imagesearch cats on a sofa`');

const isHelp = (text: string) => /^(help|\?)$/i.test(text);

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Reads a string field from an untyped payload part without `any`. */
function field(obj: unknown, key: string): string | undefined {
  return typeof obj === 'object' && obj !== null && key in obj
    ? str((obj as Record<string, unknown>)[key])
    : undefined;
}

/** A user's message is named by where it is: it may arrive as app_mention and as message (two events). */
const messageKey = (channel: string, ts: string) => `message:${channel}:${ts}`;

/**
 * The id that makes a delivery unique: Slack reuses it on every retry of the same delivery. An
 * event about a user's message is named by the message ({@link messageKey}), since one message may
 * come as app_mention and as message, and only one of the two answers it.
 */
export function deliveryKey(body: unknown): string | undefined {
  const event = typeof body === 'object' && body !== null && 'event' in body ? body.event : undefined;
  const channel = field(event, 'channel');
  const ts = field(event, 'ts');
  if (channel && ts) return messageKey(channel, ts);
  const eventId = field(body, 'event_id');
  if (eventId) return `event:${eventId}`;
  const triggerId = field(body, 'trigger_id');
  if (!triggerId) return undefined;
  const actions = typeof body === 'object' && body !== null && 'actions' in body ? body.actions : undefined;
  const actionTs = Array.isArray(actions) ? field(actions[0], 'action_ts') : undefined;
  return actionTs ? `action:${triggerId}:${actionTs}` : `trigger:${triggerId}`;
}

function files(event: { files?: readonly unknown[] }): SlackFileRef | undefined {
  const list = (event.files ?? []).filter((f): f is SlackFileRef => typeof f === 'object' && f !== null);
  return firstImageFile(list);
}

/** The job for a user's message event (a mention or a thread reply). */
function eventJob(
  client: SlackJob['client'],
  body: { team_id: string; event_id: string },
  channel: string,
  userId: string,
  parts: { text: string; file: SlackFileRef | undefined; threadTs: string | undefined; followUp: boolean },
): SlackJob {
  const job: SlackJob = {
    client,
    teamId: body.team_id,
    channel,
    userId,
    requestId: body.event_id,
    followUp: parts.followUp,
  };
  if (parts.text) job.text = parts.text;
  if (parts.file) job.file = parts.file;
  if (parts.threadTs) job.threadTs = parts.threadTs;
  return job;
}

export function registerListeners(app: App, deps: ListenerDeps): void {
  dropRepeatedDeliveries(app, deps);
  onSlashCommand(app, deps);
  onMention(app, deps);
  onThreadReply(app, deps);
  onButtons(app, deps);
}

/** Retries and repeated delivery ids stop before any listener. */
function dropRepeatedDeliveries(app: App, deps: ListenerDeps): void {
  // Retries (X-Slack-Retry-Num) and repeated ids stop here, after Bolt verified the signature and
  // before any listener: they are acknowledged at once and never reach the core. User messages are
  // claimed by the listener that answers them (see deliveryKey).
  app.use(async (args) => {
    const key = deliveryKey(args.body);
    // A message is claimed by the listener that answers it, not here (see deliveryKey).
    if (
      key &&
      !key.startsWith('message:') &&
      !(await deps.requests.firstDelivery(key, { retryNum: args.context.retryNum }))
    ) {
      if ('ack' in args && typeof args.ack === 'function') await args.ack();
      return;
    }
    await args.next();
  });
}

/** `/imagesearch …`: acked at once with "Searching for …", answered in a new thread. */
function onSlashCommand(app: App, deps: ListenerDeps): void {
  const { flow } = deps;
  app.command(deps.command, async ({ command, ack, client, respond }) => {
    const text = cleanSlackText(command.text);
    if (!text || isHelp(text)) {
      await ack({ response_type: 'ephemeral', text: HELP_TEXT });
      return;
    }
    await ack({
      response_type: 'ephemeral',
      text: `:mag: Searching for *${escapeSlackText(truncate(text, 200))}*…`,
    });
    flow.submit({
      client,
      teamId: command.team_id,
      channel: command.channel_id,
      userId: command.user_id,
      requestId: command.trigger_id,
      text,
      followUp: false,
      respond: async (note) => {
        await respond({ response_type: 'ephemeral', replace_original: false, text: note });
      },
    });
  });
}

/** `@imagesearch …` anywhere: a new search, or a refinement inside one of our result threads. */
function onMention(app: App, deps: ListenerDeps): void {
  const { flow } = deps;
  app.event('app_mention', async ({ event, body, client }) => {
    if (event.bot_id || !event.user) return;
    if (!(await deps.requests.firstDelivery(messageKey(event.channel, event.ts)))) return;
    const text = cleanSlackText(event.text);
    const file = files(event);
    const threadTs = event.thread_ts && event.thread_ts !== event.ts ? event.thread_ts : undefined;
    if ((!text && !file) || isHelp(text)) {
      // Help is a courtesy: a failure here is logged by Bolt's error handler and changes nothing else.
      await client.chat.postEphemeral({
        channel: event.channel,
        user: event.user,
        text: HELP_TEXT,
        ...(threadTs ? { thread_ts: threadTs } : {}),
      });
      return;
    }
    flow.submit(
      eventJob(client, body, event.channel, event.user, {
        text,
        file,
        threadTs,
        // A mention inside one of our result threads refines it; anywhere else it starts a search there.
        followUp: threadTs !== undefined && (await flow.isResultThread(event.channel, threadTs)),
      }),
    );
  });
}

/** Un-mentioned replies in our result threads: refinements. */
function onThreadReply(app: App, deps: ListenerDeps): void {
  const { flow } = deps;
  app.event('message', async ({ event, body, client, context }) => {
    // Plain messages and file shares only: edits, deletions, joins and bot posts are not requests.
    if (event.subtype !== undefined && event.subtype !== 'file_share') return;
    if ('bot_id' in event && event.bot_id) return;
    const botUserId = context.botUserId;
    if (!event.user || event.user === botUserId) return;
    // Only replies in a thread (thread_ts differs from ts); top-level chatter is never ours.
    if (!event.thread_ts || event.thread_ts === event.ts) return;
    // A mention arrives as app_mention too; that listener answers it.
    if (mentionsUser(event.text, botUserId)) return;
    const ours =
      (botUserId !== undefined && event.parent_user_id === botUserId) ||
      (await flow.isResultThread(event.channel, event.thread_ts));
    if (!ours) return;
    if (!(await deps.requests.firstDelivery(messageKey(event.channel, event.ts)))) return;
    const text = cleanSlackText(event.text);
    const file = files(event);
    if (!text && !file) return;
    flow.submit(
      eventJob(client, body, event.channel, event.user, {
        text,
        file,
        threadTs: event.thread_ts,
        followUp: true,
      }),
    );
  });
}

/** Result buttons (ours start with `is:`); every other button just gets its ack. */
function onButtons(app: App, deps: ListenerDeps): void {
  const { flow, logger } = deps;
  // Buttons that are not ours (none today; links, future surfaces) still get their ack, so Slack
  // shows no error to the person who clicked.
  app.action({ type: 'block_actions', action_id: /^(?!is:)/ }, async ({ ack }) => {
    await ack();
  });

  app.action<BlockAction<ButtonAction>>(
    { type: 'block_actions', action_id: /^is:/ },
    async ({ ack, body, action, client }) => {
      await ack();
      const decoded = decodeAction(action.action_id);
      const channel = body.channel?.id ?? field(body.container, 'channel_id');
      // Buttons sit on the root (its ts is the thread) or on a reply (its thread_ts is the root).
      const threadTs =
        field(body.message, 'thread_ts') ??
        field(body.container, 'thread_ts') ??
        field(body.container, 'message_ts');
      const teamId = body.team?.id ?? body.user.team_id;
      if (!decoded || !channel || !threadTs || !teamId) {
        logger.warn({ actionId: action.action_id }, 'slack: button click without a usable thread, ignored');
        return;
      }
      flow.submit({
        client,
        teamId,
        channel,
        userId: body.user.id,
        requestId: body.trigger_id,
        action: decoded,
        threadTs,
        followUp: true,
      });
    },
  );
}
