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
