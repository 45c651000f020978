/**
 * Per-conversation order in the web chat, over real HTTP: two quick refinements from one browser
 * session are answered in the order they were sent, although the first takes longer to search (the
 * one request flow queues a conversation's requests, adapters/kit/request-flow.ts). Another
 * session is not held up by them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../adapters/app/http-server.ts';
import type { WebReply } from '../../adapters/web/reply-json.ts';
import { createWebAdapter } from '../../adapters/web/web-adapter.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { RecordingHandler } from '../support/recording-handler.ts';

let http: HttpServer;
let base: string;
const handler = new RecordingHandler({
  delayFor: (r) => (r.text === 'first refinement' ? 300 : 0),
});

beforeAll(async () => {
  const logger = silentLogger();
  const web = createWebAdapter({ handler, logger });
  await web.start();
  http = createHttpServer({ routes: web.routes, logger });
  base = (await http.listen(0, '127.0.0.1')).url;
});

afterAll(async () => {
  await http?.close();
});

async function session(): Promise<string> {
  const res = await fetch(`${base}/`);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

describe('web chat: one conversation, answered in order', () => {
  it('two quick refinements in one session are answered in the order they were sent', async () => {
    const cookie = await session();
    const other = await session();
    const answered: string[] = [];
    const send = async (cookieHeader: string, text: string) => {
      const res = await fetch(`${base}/api/chat`, {
        method: 'POST',
        body: JSON.stringify({ text, followUp: '1' }),
        headers: { cookie: cookieHeader, 'content-type': 'application/json' },
      });
      const reply = (await res.json()) as WebReply;
      answered.push(reply.kind === 'results' ? reply.query : reply.text);
    };
    const first = send(cookie, 'first refinement');
    // Sent once the first is with the handler: it arrives second.
    while (!handler.requests.some((r) => r.text === 'first refinement'))
      await new Promise((r) => setTimeout(r, 5));
    await Promise.all([first, send(cookie, 'second refinement'), send(other, 'another session')]);
    expect(answered).toEqual(['another session', 'first refinement', 'second refinement']);
    const sessionOf = (text: string) => handler.requests.find((r) => r.text === text)?.conversationId;
    expect(sessionOf('second refinement')).toBe(sessionOf('first refinement'));
    expect(sessionOf('another session')).not.toBe(sessionOf('first refinement'));
  });
});
