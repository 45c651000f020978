/**
 * Child process of the Slack ack benchmark: the real adapter (its route on the bot's HTTP server) with a handler that
 * takes SEARCH_MS per request. Running it in its own process keeps the fake Slack and the load
 * generator — Slack's side of the wire — off the adapter's event loop, as in production.
 * Prints one JSON line `{"port":N}` when ready; exits on SIGTERM after finishing in-flight replies.
 */
import { createHttpServer } from '../../adapters/app/http-server.ts';
import { createSlackAdapter } from '../../adapters/slack/slack-adapter.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { RecordingHandler } from '../../test/support/recording-handler.ts';

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`slack-ack-server: ${name} is not set`);
  return v;
};

const adapter = createSlackAdapter({
  config: {
    botToken: env('SLACK_BOT_TOKEN'),
    signingSecret: env('SLACK_SIGNING_SECRET'),
    apiUrl: env('SLACK_API_URL'),
  },
  handler: new RecordingHandler({ delayMs: Number(process.env.SEARCH_MS ?? 50) }),
  logger: silentLogger(),
});
const server = createHttpServer({ routes: adapter.routes, logger: silentLogger() });
const { port } = await server.listen(0, '127.0.0.1');
await adapter.start();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.once('SIGTERM', () => {
  void adapter
    .stop()
    .then(() => server.close())
    .then(() => process.exit(0));
});
