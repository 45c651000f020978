/**
 * The fake Web API checks image blocks the way Slack does, so the adapter's retry and fallback are
 * tested against a peer that can say no. Driven by the real @slack/web-api client (Bolt's re-export).
 */
import { webApi } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlackPeer, startSlackPeer } from '../peers/slack-peer.ts';
import { gridJpeg } from '../support/recording-handler.ts';
import { BOT_TOKEN } from './harness.ts';

describe('slack peer: image blocks with slack_file', () => {
  let peer: SlackPeer;
  let client: webApi.WebClient;
  beforeAll(async () => {
    peer = await startSlackPeer({ botToken: BOT_TOKEN });
    client = new webApi.WebClient(BOT_TOKEN, { slackApiUrl: peer.apiUrl, retryConfig: { retries: 0 } });
  });
  afterAll(async () => {
    await peer.close();
  });

  const image = (slackFile: Record<string, string>) => [
    { type: 'image', alt_text: 'grid', slack_file: slackFile },
  ];
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: { data?: { error?: string } }) => e.data?.error ?? 'threw',
    );

  it('accepts a completed upload by id or permalink, refuses unknown, unfinished and deleted files', async () => {
    peer.reset();
    const done = await client.filesUploadV2({ file: await gridJpeg(), filename: 'grid.jpg' });
    const file = done.files[0]?.files?.[0];
    expect(file?.id).toBeDefined();
    expect(peer.uploads.get(file!.id!)?.channelId).toBeUndefined();
    const post = (blocks: unknown[]) =>
      code(client.chat.postMessage({ channel: 'C111', text: 'x', blocks: blocks as never }));

    expect(await post(image({ id: file!.id! }))).toBe('ok');
    expect(await post(image({ url: file!.permalink! }))).toBe('ok');
    expect(await post(image({ id: 'F0UNKNOWN' }))).toBe('invalid_blocks');
    expect(await post(image({ id: file!.id!, url: file!.permalink! }))).toBe('invalid_blocks');

    const pending = await client.files.getUploadURLExternal({ filename: 'p.jpg', length: 10 });
    expect(await post(image({ id: pending.file_id! }))).toBe('invalid_blocks');

    await client.files.delete({ file: file!.id! });
    expect(await post(image({ id: file!.id! }))).toBe('invalid_blocks');
    // Every attempt is recorded with its answer.
    expect(peer.callsOf('chat.postMessage').map((c) => c.error)).toEqual([
      undefined,
      undefined,
      'invalid_blocks',
      'invalid_blocks',
      'invalid_blocks',
      'invalid_blocks',
    ]);
  });

  it('imageNotReady(n) refuses the next n image posts or edits; imageNeverReady refuses all', async () => {
    peer.reset();
    const done = await client.filesUploadV2({ file: await gridJpeg(), filename: 'grid.jpg' });
    const id = done.files[0]!.files![0]!.id!;
    const root = await client.chat.postMessage({ channel: 'C111', text: 'root' });
    const update = () =>
      code(client.chat.update({ channel: 'C111', ts: root.ts!, text: 'x', blocks: image({ id }) as never }));

    peer.imageNotReady(2);
    // Messages without image blocks are never affected.
    expect(await code(client.chat.postMessage({ channel: 'C111', text: 'plain' }))).toBe('ok');
    expect([await update(), await update(), await update()]).toEqual([
      'invalid_blocks',
      'invalid_blocks',
      'ok',
    ]);

    peer.imageNeverReady(true);
    expect([await update(), await update()]).toEqual(['invalid_blocks', 'invalid_blocks']);
    peer.imageNeverReady(false);
    expect(await update()).toBe('ok');
    expect(peer.messages.filter((m) => m.kind === 'update')).toHaveLength(2);
  });
});

describe('slack peer: channels, messages and Block Kit limits as Slack enforces them', () => {
  let peer: SlackPeer;
  let client: webApi.WebClient;
  beforeAll(async () => {
    peer = await startSlackPeer({ botToken: BOT_TOKEN });
    client = new webApi.WebClient(BOT_TOKEN, { slackApiUrl: peer.apiUrl, retryConfig: { retries: 0 } });
  });
  afterAll(async () => {
    await peer.close();
  });

  /** The Slack error code and the response_metadata messages of a refused call ('ok' if it worked). */
  const answer = (p: Promise<unknown>) =>
    p.then(
      () => ({ error: 'ok', messages: [] as string[] }),
      (e: { data?: { error?: string; response_metadata?: { messages?: string[] } } }) => ({
        error: e.data?.error ?? 'threw',
        messages: e.data?.response_metadata?.messages ?? [],
      }),
    );
  const post = (blocks: unknown[], channel = 'C111') =>
    answer(client.chat.postMessage({ channel, text: 'fallback', blocks: blocks as never }));
  const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
  const button = (over: Record<string, unknown> = {}) => ({
    type: 'button',
    action_id: 'is:open:1',
    text: { type: 'plain_text', text: 'Open 1' },
    ...over,
  });

  it('channel_not_found for a channel the bot cannot see, whatever the method', async () => {
    const root = await client.chat.postMessage({ channel: 'C111', text: 'root' });
    expect((await answer(client.chat.postMessage({ channel: 'C0NOPE', text: 'x' }))).error).toBe(
      'channel_not_found',
    );
    expect((await answer(client.chat.update({ channel: 'C0NOPE', ts: root.ts!, text: 'x' }))).error).toBe(
      'channel_not_found',
    );
    expect((await answer(client.chat.delete({ channel: 'C0NOPE', ts: root.ts! }))).error).toBe(
      'channel_not_found',
    );
    expect(
      (await answer(client.chat.postEphemeral({ channel: 'C0NOPE', user: 'W1', text: 'x' }))).error,
    ).toBe('channel_not_found');
    peer.addChannel('C0NEW');
    expect((await answer(client.chat.postMessage({ channel: 'C0NEW', text: 'x' }))).error).toBe('ok');
  });

  it('chat.update and chat.delete need an existing message of the bot in that channel', async () => {
    const root = await client.chat.postMessage({ channel: 'C111', text: 'root' });
    // The same ts in another visible channel is another (missing) message.
    expect((await answer(client.chat.update({ channel: 'C123ABC456', ts: root.ts!, text: 'x' }))).error).toBe(
      'message_not_found',
    );
    expect((await answer(client.chat.update({ channel: 'C111', ts: '1.000001', text: 'x' }))).error).toBe(
      'message_not_found',
    );
    peer.addMessage('C111', '1600000000.000200', { user: 'W333' });
    expect(
      (await answer(client.chat.update({ channel: 'C111', ts: '1600000000.000200', text: 'x' }))).error,
    ).toBe('cant_update_message');
    expect((await answer(client.chat.delete({ channel: 'C111', ts: '1600000000.000200' }))).error).toBe(
      'cant_delete_message',
    );
    expect((await answer(client.chat.update({ channel: 'C111', ts: root.ts!, text: 'edited' }))).error).toBe(
      'ok',
    );
    expect(peer.messageAt('C111', root.ts!)?.text).toBe('edited');
    expect((await answer(client.chat.delete({ channel: 'C111', ts: root.ts! }))).error).toBe('ok');
    expect(peer.messageAt('C111', root.ts!)).toBeUndefined();
    expect((await answer(client.chat.update({ channel: 'C111', ts: root.ts!, text: 'x' }))).error).toBe(
      'message_not_found',
    );
  });

  it('thread replies need their parent: invalid_thread_ts otherwise; a user message can be a parent', async () => {
    expect(
      (await answer(client.chat.postMessage({ channel: 'C111', thread_ts: '1600000000.999999', text: 'x' })))
        .error,
    ).toBe('invalid_thread_ts');
    peer.addMessage('C111', '1600000000.000300', { user: 'W333' });
    const reply = await client.chat.postMessage({
      channel: 'C111',
      thread_ts: '1600000000.000300',
      text: 'x',
    });
    expect(reply.ok).toBe(true);
    // A parent in C111 is not a parent in another channel.
    expect(
      (
        await answer(
          client.chat.postMessage({ channel: 'C123ABC456', thread_ts: '1600000000.000300', text: 'x' }),
        )
      ).error,
    ).toBe('invalid_thread_ts');
  });

  it('no_text without text or blocks; reset() keeps the workspace', async () => {
    expect((await answer(client.chat.postMessage({ channel: 'C111' } as never))).error).toBe('no_text');
    const root = await client.chat.postMessage({ channel: 'C111', text: 'kept' });
    peer.reset();
    expect(peer.messages).toHaveLength(0);
    expect(peer.messageAt('C111', root.ts!)?.text).toBe('kept');
  });

  it.each([
    [
      '51 blocks',
      Array.from({ length: 51 }, () => ({ type: 'divider' })),
      '/blocks',
      'no more than 50 items allowed',
    ],
    [
      '3001 characters of section text',
      [section('x'.repeat(3001))],
      '/blocks/0/text/text',
      'must be less than 3001 characters',
    ],
    ['an empty section text', [section('')], '/blocks/0/text/text', 'must be more than 0 characters'],
    [
      '26 buttons in one actions block',
      [{ type: 'actions', elements: Array.from({ length: 26 }, (_, i) => button({ action_id: `b${i}` })) }],
      '/blocks/0/elements',
      'no more than 25 items allowed',
    ],
    [
      'an action_id of 256 characters',
      [{ type: 'actions', elements: [button({ action_id: 'a'.repeat(256) })] }],
      '/blocks/0/elements/0/action_id',
      'must be less than 256 characters',
    ],
    [
      'a button label of 76 characters',
      [{ type: 'actions', elements: [button({ text: { type: 'plain_text', text: 'l'.repeat(76) } })] }],
      '/blocks/0/elements/0/text/text',
      'must be less than 76 characters',
    ],
    [
      'a mrkdwn button label',
      [{ type: 'actions', elements: [button({ text: { type: 'mrkdwn', text: 'x' } })] }],
      '/blocks/0/elements/0/text/type',
      'failed to match all allowed schemas',
    ],
    [
      'a block_id of 256 characters',
      [{ type: 'divider', block_id: 'b'.repeat(256) }],
      '/blocks/0/block_id',
      'must be less than 256 characters',
    ],
    ['an unknown block type', [{ type: 'carousel' }], '/blocks/0', 'failed to match all allowed schemas'],
    [
      'an image without alt_text',
      [{ type: 'image', image_url: 'https://x.test/a.png' }],
      '/blocks/0',
      'missing required field: alt_text',
    ],
    [
      'an image with alt_text over 2000 characters',
      [{ type: 'image', image_url: 'https://x.test/a.png', alt_text: 'a'.repeat(2001) }],
      '/blocks/0/alt_text',
      'must be less than 2001 characters',
    ],
    [
      'an image naming a file Slack does not have',
      [section('grid'), { type: 'image', slack_file: { id: 'F0UNKNOWN' }, alt_text: 'grid' }],
      '/blocks/1/slack_file',
      'invalid slack file',
    ],
  ])('%s → invalid_blocks, reported as Slack does', async (_name, blocks, pointer, what) => {
    const res = await post(blocks);
    expect(res.error).toBe('invalid_blocks');
    expect(res.messages).toEqual([`[ERROR] ${what} [json-pointer:${pointer}]`]);
  });

  it('exactly at the limits is fine', async () => {
    const blocks = [
      section('x'.repeat(3000)),
      {
        type: 'actions',
        block_id: 'b'.repeat(255),
        elements: Array.from({ length: 25 }, (_, i) =>
          button({ action_id: `${i}`.padEnd(255, 'a'), text: { type: 'plain_text', text: 'l'.repeat(75) } }),
        ),
      },
      ...Array.from({ length: 48 }, () => ({ type: 'divider' })),
    ];
    expect(blocks).toHaveLength(50);
    expect((await post(blocks)).error).toBe('ok');
  });
});
