/**
 * Starts a local Discord peer and the real Discord adapter (real discord.js client) against it.
 */

import { Writable } from 'node:stream';
import { createDiscordAdapter, type DiscordAdapter } from '../../adapters/discord/discord-adapter.ts';
import { createLogger, silentLogger } from '../../src/util/logger.ts';
import { DiscordPeer, type DiscordPeerOptions, type RecordedCall } from '../peers/discord-peer.ts';
import { RecordingHandler } from '../support/discord-handler.ts';

export interface Harness {
  peer: DiscordPeer;
  adapter: DiscordAdapter;
  handler: RecordingHandler;
  /** What the adapter reported to the upload metric hook. */
  uploads: { seconds: number; ok: boolean }[];
  close(): Promise<void>;
}

export async function startHarness(
  opts: { messageContent?: boolean; peer?: DiscordPeerOptions; logs?: string[] } = {},
): Promise<Harness> {
  const peer = await DiscordPeer.start(opts.peer);
  const handler = new RecordingHandler();
  const uploads: { seconds: number; ok: boolean }[] = [];
  const adapter = createDiscordAdapter({
    observeUpload: (seconds, ok) => uploads.push({ seconds, ok }),
    config: { token: peer.token, apiUrl: peer.apiUrl, messageContent: opts.messageContent ?? false },
    // The peer serves attachments from its own address; only its harness may allow that.
    attachmentOrigins: [peer.apiUrl],
    handler,
    // DEBUG_DISCORD_TESTS=1 shows the adapter's log while a test runs.
    logger: opts.logs
      ? createLogger({ level: 'debug', destination: lineSink(opts.logs) })
      : process.env.DEBUG_DISCORD_TESTS
        ? createLogger({ level: 'debug', pretty: false })
        : silentLogger(),
    clientOptions: { waitGuildTimeout: 1000 },
  });
  await adapter.start();
  return {
    peer,
    adapter,
    handler,
    uploads,
    async close() {
      await adapter.stop();
      await peer.close();
    },
  };
}

/** Calls recorded after index `from` that match. */
export function callsSince(
  peer: DiscordPeer,
  from: number,
  pred: (c: RecordedCall) => boolean,
): RecordedCall[] {
  return peer.calls.slice(from).filter(pred);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A pino destination collecting log lines. */
function lineSink(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
}
