/**
 * Test harness: the real Slack adapter (HTTP mode, its route mounted on the bot's HTTP server on a
 * free port) against the local fake Web API, driven by correctly signed requests built from the
 * real payloads in test/fixtures/slack/.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHttpServer } from '../../adapters/app/http-server.ts';
import {
  createSlackAdapter,
  type SlackAdapter,
  type SlackAdapterOptions,
} from '../../adapters/slack/slack-adapter.ts';
import { type Logger, silentLogger } from '../../src/util/logger.ts';
import { type PeerMessage, type SlackPeer, startSlackPeer } from '../peers/slack-peer.ts';
import { postSigned, type SignedPostOptions, type SignedPostResult } from '../peers/slack-signing.ts';
import { FIXTURES_DIR } from '../support/fixtures.ts';
import { RecordingHandler, type RecordingHandlerOptions } from '../support/recording-handler.ts';

export const SIGNING_SECRET = 'imagesearch-test-signing-secret';
export const BOT_TOKEN = 'xoxb-imagesearch-test-token';

type Json = Record<string, unknown>;

export function slackFixture<T = Json>(name: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES_DIR, 'slack', name), 'utf8')) as T;
}

let counter = 0;
export const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${(++counter).toString(36)}`;
/** A fresh message ts (`seconds.micro`), unique within the run. */
export const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++counter).padStart(6, '0')}`;

export interface ClickOptions {
  threadTs?: string;
  /** Fixed delivery ids, to replay the same click. */
  triggerId?: string;
  actionTs?: string;
}

export interface Harness {
  peer: SlackPeer;
  adapter: SlackAdapter;
  handler: RecordingHandler;
  eventsUrl: string;
  post(body: string, opts?: Partial<SignedPostOptions>): Promise<SignedPostResult>;
  /** `/imagesearch <text>` from the bolt-python fixture payload. */
  command(text: string, overrides?: Record<string, string>): Promise<SignedPostResult>;
  /** An Events API envelope (JSON). */
  event(envelope: Json, opts?: Partial<SignedPostOptions>): Promise<SignedPostResult>;
  /** A block_actions click on `actionId` on message `messageTs` (optionally inside thread `threadTs`). */
  click(actionId: string, messageTs: string, opts?: ClickOptions): Promise<SignedPostResult>;
  mention(text: string, extra?: Json): Json;
  threadReply(threadTs: string, text: string, extra?: Json): Json;
  close(): Promise<void>;
}

/** Adapter options a test may change (the image-block retry waits, for example). */
export type HarnessAdapterOptions = Pick<SlackAdapterOptions, 'imageReadyRetryMs'>;

export async function startHarness(
  handlerOptions: RecordingHandlerOptions = {},
  logger: Logger = silentLogger(),
  adapterOptions: HarnessAdapterOptions = {},
): Promise<Harness> {
  const peer = await startSlackPeer({ botToken: BOT_TOKEN, teamId: 'T111' });
  const handler = new RecordingHandler(handlerOptions);
  const adapter = createSlackAdapter({
    config: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: peer.apiUrl },
    handler,
    logger,
    // The peer serves shared files from its own address: the bot token may go there in tests only.
    fileOrigins: [peer.url],
    ...adapterOptions,
  });
  const server = createHttpServer({ routes: adapter.routes, logger });
  const { url } = await server.listen(0, '127.0.0.1');
  await adapter.start();
  const eventsUrl = `${url}/slack/events`;
  const post = (body: string, opts: Partial<SignedPostOptions> = {}) =>
    postSigned(eventsUrl, body, { secret: SIGNING_SECRET, ...opts });

  return {
    peer,
    adapter,
    handler,
    eventsUrl,
    post,
    command(text, overrides = {}) {
      const base = slackFixture<Record<string, string>>('slash_command_bolt_python.json');
      const fields = {
        ...base,
        command: '/imagesearch',
        text,
        trigger_id: unique('trig.'),
        response_url: peer.responseUrl(unique('cmd')),
        ...overrides,
      };
      return post(new URLSearchParams(fields).toString());
    },
    event(envelope, opts = {}) {
      // The message an event describes exists in Slack: the bot may reply in its thread.
      const e = envelope.event as Json | undefined;
      if (typeof e?.channel === 'string' && typeof e.ts === 'string') {
        peer.addMessage(e.channel, e.ts, {
          ...(typeof e.user === 'string' ? { user: e.user } : {}),
          ...(typeof e.thread_ts === 'string' ? { threadTs: e.thread_ts } : {}),
        });
      }
      return post(JSON.stringify(envelope), { contentType: 'application/json', ...opts });
    },
    click(actionId, messageTs, opts = {}) {
      const { threadTs } = opts;
      const body = slackFixture('block_actions_bolt_python.json') as Json & {
        actions: Json[];
        container: Json;
      };
      const action = {
        ...body.actions[0],
        action_id: actionId,
        value: actionId,
        action_ts: opts.actionTs ?? nextTs(),
      };
      const message: Json = { type: 'message', ts: messageTs, user: peer.botUserId, text: 'Results' };
      const container: Json = { ...body.container, message_ts: messageTs, is_ephemeral: false };
      // Buttons sit on a bot message that exists in the channel the click comes from.
      peer.addMessage(String(container.channel_id), messageTs, {
        user: peer.botUserId,
        ...(threadTs ? { threadTs } : {}),
      });
      if (threadTs) {
        message.thread_ts = threadTs;
        container.thread_ts = threadTs;
      }
      const payload = {
        ...body,
        trigger_id: opts.triggerId ?? unique('trig.'),
        response_url: peer.responseUrl(unique('act')),
        actions: [action],
        container,
        message,
      };
      return post(`payload=${encodeURIComponent(JSON.stringify(payload))}`);
    },
    mention(text, extra = {}) {
      const env = slackFixture('event_app_mention_bolt_python.json') as Json & { event: Json };
      const ts = nextTs();
      return {
        ...env,
        event_id: unique('Ev'),
        event: { ...env.event, text: `<@${peer.botUserId}> ${text}`, ts, event_ts: ts, ...extra },
      };
    },
    threadReply(threadTs, text, extra = {}) {
      const env = slackFixture('event_message_thread_reply_bolt_python.json') as Json & { event: Json };
      const ts = nextTs();
      return {
        ...env,
        event_id: unique('Ev'),
        event: {
          ...env.event,
          text,
          ts,
          event_ts: ts,
          thread_ts: threadTs,
          parent_user_id: peer.botUserId,
          ...extra,
        },
      };
    },
    async close() {
      await adapter.stop();
      await server.close();
      await peer.close();
    },
  };
}

/** Waits until the adapter has finished every request it accepted. */
export async function settled(h: Harness, timeoutMs = 5_000): Promise<void> {
  await new Promise((r) => setTimeout(r, 20));
  await h.peer.waitFor(() => h.adapter.inflight === 0, timeoutMs);
}

type AnyBlock = {
  type: string;
  elements?: { action_id: string }[];
  slack_file?: { id?: string };
  alt_text?: string;
  text?: { text: string };
};

/** The blocks of a recorded message (or of a call's `blocks` parameter). */
export function blocksOf(m: PeerMessage | undefined): AnyBlock[] {
  return (m?.blocks ?? []) as AnyBlock[];
}

/** `slack_file` ids of the image blocks. */
export function imageFileIds(blocks: AnyBlock[]): string[] {
  return blocks.flatMap((b) => (b.type === 'image' && b.slack_file?.id ? [b.slack_file.id] : []));
}

/** `action_id`s of every button. */
export function buttonIds(blocks: AnyBlock[]): string[] {
  return blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements ?? []).map((e) => e.action_id));
}

/** Uploads Slack shared into a channel or thread (a separate file message), as opposed to private ones. */
export function sharedUploads(peer: SlackPeer) {
  return [...peer.uploads.values()].filter((u) => u.channelId !== undefined);
}
