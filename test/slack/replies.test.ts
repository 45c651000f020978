/**
 * Slack delivery (adapters/slack/replies.ts) called directly with a real Web API client against the
 * local Slack peer: what each reply kind posts, edits, uploads and logs.
 */
import { webApi } from '@slack/bolt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { boltLogger } from '../../adapters/slack/bolt-logger.ts';
import {
  deliverError,
  deliverReply,
  postPlaceholder,
  slackErrorCode,
  type ThreadTarget,
} from '../../adapters/slack/replies.ts';
import { resultActions } from '../../src/core/actions.ts';
import type { BotReply, Pick } from '../../src/core/types.ts';
import { createLogger, type Logger, silentLogger } from '../../src/util/logger.ts';
import { type SlackPeer, startSlackPeer } from '../peers/slack-peer.ts';
import { BOT_TOKEN, blocksOf, imageFileIds } from './harness.ts';

const CHANNEL = 'C111';

function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    pretty: false,
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  });
  return { logger, lines };
}

const pick = (n: number, description?: string): Pick => ({
  id: `p${n}`,
  n,
  score: 0.3,
  entry: { id: `p${n}`, ...(description ? { description } : {}) },
});

function results(query: string, picks: Pick[]): Extract<BotReply, { kind: 'results' }> {
  return {
    kind: 'results',
    text: `Results for ${query}`,
    reply: {
      query,
      picks,
      grid: Buffer.from('grid-bytes'),
      mime: 'image/jpeg',
      fileName: 'grid.jpg',
      caption: `caption ${query}`,
      rankedBy: 'clip',
      timingsMs: {},
    },
    actions: resultActions(picks.length),
  };
}

/** The `alt_text` each upload was given (the SDK sends it with files.getUploadURLExternal). */
const uploadAltTexts = (peer: SlackPeer) =>
  peer.callsOf('files.getUploadURLExternal').map((c) => c.params.alt_text);

describe('slack replies', () => {
  let peer: SlackPeer;
  let client: webApi.WebClient;
  let threadTs: string;

  beforeAll(async () => {
    peer = await startSlackPeer({ botToken: BOT_TOKEN });
    client = new webApi.WebClient(BOT_TOKEN, {
      slackApiUrl: peer.apiUrl,
      retryConfig: { retries: 0 },
      logger: boltLogger(silentLogger()),
    });
  });
  afterAll(async () => {
    await peer.close();
  });
  beforeEach(async () => {
    peer.reset();
    threadTs = await postPlaceholder(client, CHANNEL, 'root');
    peer.reset();
  });

  const inThread = (extra: Partial<ThreadTarget> = {}): ThreadTarget => ({
    client,
    channel: CHANNEL,
    threadTs,
    userId: 'U42',
    ...extra,
  });

  describe('slackErrorCode', () => {
    it('reads the code of a Web API error and nothing else', () => {
      expect(slackErrorCode({ data: { ok: false, error: 'not_in_channel' } })).toBe('not_in_channel');
      for (const e of [
        null,
        undefined,
        'invalid_blocks',
        42,
        {},
        { data: null },
        { data: 'x' },
        { data: {} },
      ]) {
        expect(slackErrorCode(e)).toBeUndefined();
      }
      expect(slackErrorCode({ data: { error: 7 } })).toBeUndefined();
    });
  });

  describe('postPlaceholder', () => {
    it('posts an escaped "Searching for" root without unfurls and returns its ts', async () => {
      const ts = await postPlaceholder(client, CHANNEL, 'cats & <dogs>');
      const [call] = peer.callsOf('chat.postMessage');
      expect(call?.params).toMatchObject({
        channel: CHANNEL,
        text: ':mag: Searching for *cats &amp; &lt;dogs&gt;*…',
        unfurl_links: 'false',
        unfurl_media: 'false',
      });
      expect(peer.messageAt(CHANNEL, ts)?.text).toBe(':mag: Searching for *cats &amp; &lt;dogs&gt;*…');
    });

    it('says just "Searching…" without a query', async () => {
      await postPlaceholder(client, CHANNEL, '');
      expect(peer.callsOf('chat.postMessage')[0]?.params.text).toBe(':mag: Searching…');
    });

    it('fails when Slack answers without a ts', async () => {
      const noTs = { chat: { postMessage: async () => ({ ok: true }) } } as unknown as webApi.WebClient;
      await expect(postPlaceholder(noTs, CHANNEL, 'x')).rejects.toThrow('chat.postMessage returned no ts');
    });
  });

  describe('results', () => {
    it('one pick: the grid is described as a single numbered photo, in the upload and the image block', async () => {
      await deliverReply(inThread(), results('owls', [pick(1)]));
      expect(uploadAltTexts(peer)).toEqual(['Photo for “owls”, numbered 1']);
      const [post] = peer.messages.filter((m) => m.kind === 'message');
      expect(post?.threadTs).toBe(threadTs);
      expect(blocksOf(post).find((b) => b.type === 'image')?.alt_text).toBe('Photo for “owls”, numbered 1');
      expect(peer.callsOf('chat.postMessage')[0]?.params).toMatchObject({
        thread_ts: threadTs,
        unfurl_links: 'false',
        unfurl_media: 'false',
      });
    });

    it('several picks: "n photos … numbered 1 to n"', async () => {
      await deliverReply(inThread(), results('owls', [pick(1), pick(2), pick(3)]));
      expect(uploadAltTexts(peer)).toEqual(['3 photos for “owls”, numbered 1 to 3']);
    });

    it('an error other than invalid_blocks is thrown at once, without the file-share fallback', async () => {
      peer.failNext('chat.postMessage', 'not_in_channel');
      await expect(
        deliverReply(inThread(), results('owls', [pick(1)]), { imageReadyRetryMs: [0, 0] }),
      ).rejects.toMatchObject({ data: { error: 'not_in_channel' } });
      expect(peer.callsOf('chat.postMessage')).toHaveLength(1);
      expect([...peer.uploads.values()].filter((u) => u.channelId !== undefined)).toEqual([]);
    });

    it('a grid still refused is shared into the thread, logged, and the unused upload deleted', async () => {
      const { logger, lines } = recordingLogger();
      peer.imageNeverReady(true);
      await deliverReply(inThread(), results('owls', [pick(1), pick(2)]), { imageReadyRetryMs: [0], logger });
      peer.imageNeverReady(false);
      const [privateUpload, shared] = [...peer.uploads.values()];
      expect(privateUpload?.deleted).toBe(true);
      expect(shared).toMatchObject({ channelId: CHANNEL, threadTs, initialComment: 'caption owls' });
      const last = peer.messages.filter((m) => m.kind === 'message').at(-1);
      expect(imageFileIds(blocksOf(last))).toEqual([]);
      expect(last?.text).toBe('Results for owls');
      expect(lines.filter((l) => l.level === 40)).toEqual([
        expect.objectContaining({
          channel: CHANNEL,
          threadTs,
          fileId: privateUpload?.fileId,
          msg: 'slack: image block still refused (invalid_blocks); sharing the grid in the thread instead',
        }),
      ]);
    });

    it('a failed clean-up of the unused upload is logged, not thrown', async () => {
      const { logger, lines } = recordingLogger();
      peer.imageNeverReady(true);
      peer.failNext('files.delete', 'file_not_found');
      await deliverReply(inThread(), results('owls', [pick(1)]), { imageReadyRetryMs: [], logger });
      peer.imageNeverReady(false);
      const privateUpload = [...peer.uploads.values()][0];
      const warning = lines.filter((l) => l.level === 40).at(-1);
      expect(warning).toMatchObject({
        fileId: privateUpload?.fileId,
        msg: 'slack: could not delete the unused grid upload',
        err: { message: expect.stringContaining('file_not_found') },
      });
    });
  });

  describe('results: the image block', () => {
    it('edits the root placeholder into the result', async () => {
      const root = await postPlaceholder(client, CHANNEL, 'owls');
      peer.reset();
      await deliverReply(inThread({ threadTs: root, placeholderTs: root }), results('owls', [pick(1)]));
      expect(peer.callsOf('chat.postMessage')).toEqual([]);
      const now = peer.messageAt(CHANNEL, root);
      expect(now?.text).toBe('Results for owls');
      const [update] = peer.messages;
      expect([update?.kind, update?.ts]).toEqual(['update', root]);
      expect(imageFileIds(blocksOf(update))).toEqual([...peer.uploads.keys()]);
    });

    it('retries once per configured wait while the upload is not ready, then shows it', async () => {
      peer.imageNotReady(2);
      await deliverReply(inThread(), results('owls', [pick(1)]), { imageReadyRetryMs: [0, 0] });
      expect(peer.callsOf('chat.postMessage').map((c) => c.error)).toEqual([
        'invalid_blocks',
        'invalid_blocks',
        undefined,
      ]);
      expect([...peer.uploads.values()].filter((u) => u.channelId !== undefined)).toEqual([]);
    });

    it('with no waits configured, one refusal means the fallback, also without a logger', async () => {
      peer.imageNeverReady(true);
      await deliverReply(inThread(), results('owls', [pick(1)]), { imageReadyRetryMs: [] });
      peer.imageNeverReady(false);
      expect(peer.callsOf('chat.postMessage').map((c) => c.error)).toEqual(['invalid_blocks', undefined]);
      expect([...peer.uploads.values()].map((u) => u.channelId)).toEqual([undefined, CHANNEL]);
    });

    it('a failed clean-up without a logger is not thrown either', async () => {
      peer.imageNeverReady(true);
      peer.failNext('files.delete', 'file_not_found');
      await deliverReply(inThread(), results('owls', [pick(1)]), { imageReadyRetryMs: [] });
      peer.imageNeverReady(false);
      expect(peer.callsOf('files.delete').map((c) => c.error)).toEqual(['file_not_found']);
    });
  });

  describe('open', () => {
    it('without an image it posts the text in the thread', async () => {
      await deliverReply(inThread(), { kind: 'open', text: 'Photo <1>', pick: pick(1) });
      expect(peer.callsOf('files.getUploadURLExternal')).toEqual([]);
      expect(peer.messages.map((m) => [m.kind, m.threadTs, m.text])).toEqual([
        ['message', threadTs, 'Photo &lt;1&gt;'],
      ]);
    });

    it('shares the photo with its description as alt text, else "Photo n"', async () => {
      const image = { bytes: Buffer.from('photo'), mime: 'image/jpeg', fileName: 'p.jpg' };
      await deliverReply(inThread(), { kind: 'open', text: 'Photo 1', pick: pick(1, 'an owl'), image });
      await deliverReply(inThread(), { kind: 'open', text: 'Photo 2', pick: pick(2), image });
      expect(uploadAltTexts(peer)).toEqual(['an owl', 'Photo 2']);
    });
  });

  describe('notice', () => {
    it('an ephemeral notice without a root placeholder goes to the user in the thread', async () => {
      await deliverReply(inThread(), { kind: 'notice', level: 'warn', text: 'Slow down', ephemeral: true });
      expect(peer.messages).toEqual([
        expect.objectContaining({
          kind: 'ephemeral',
          channel: CHANNEL,
          threadTs,
          user: 'U42',
          text: ':information_source: Slow down',
        }),
      ]);
    });

    it('a notice that is not ephemeral is posted in the thread for everyone', async () => {
      await deliverReply(inThread(), { kind: 'notice', level: 'info', text: 'Done', ephemeral: false });
      expect(peer.messages.map((m) => [m.kind, m.threadTs, m.text])).toEqual([['message', threadTs, 'Done']]);
    });

    it('an ephemeral notice replacing a root placeholder goes to the channel and the root is deleted', async () => {
      const root = await postPlaceholder(client, CHANNEL, 'x');
      peer.reset();
      await deliverReply(inThread({ threadTs: root, placeholderTs: root }), {
        kind: 'notice',
        level: 'error',
        text: 'No luck',
        ephemeral: true,
      });
      expect(peer.messages.map((m) => [m.kind, m.threadTs, m.text])).toEqual([
        ['ephemeral', undefined, ':warning: No luck'],
        ['delete', undefined, undefined],
      ]);
      expect(peer.messageAt(CHANNEL, root)).toBeUndefined();
    });
  });

  describe('deliverError', () => {
    it('turns the root placeholder into a warning, or posts it in the thread', async () => {
      const root = await postPlaceholder(client, CHANNEL, 'x');
      peer.reset();
      await deliverError(inThread({ threadTs: root, placeholderTs: root }), 'Search is down.');
      expect(peer.messageAt(CHANNEL, root)?.text).toBe(':warning: Search is down.');
      await deliverError(inThread(), 'Try again.');
      expect(peer.messages.map((m) => [m.kind, m.threadTs, m.text])).toEqual([
        ['update', undefined, ':warning: Search is down.'],
        ['message', threadTs, ':warning: Try again.'],
      ]);
    });
  });
});
