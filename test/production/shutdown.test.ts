/**
 * Graceful shutdown of the real CLI: `node bin/imagesearch.js serve --no-setup` gets SIGTERM while a
 * search is in flight (held in Gemini by a slow peer). The search must complete, new work must be
 * refused meanwhile (readiness 503, chat 503), and the process must exit 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebReply } from '../../adapters/web/reply-json.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import { REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { freePort } from '../support/redis-server.ts';
import { tinyBotEnv } from './harness.ts';

let gemini: GeminiPeer;
let child: ChildProcess | undefined;

beforeAll(async () => {
  gemini = await startGeminiPeer({ mode: 'slow', delayMs: 2000 });
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await gemini?.close();
});

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('SIGTERM', () => {
  it('finishes the in-flight search, refuses new work, closes everything and exits 0', async () => {
    const port = await freePort();
    const env = await tinyBotEnv({
      PORT: String(port),
      LOG_LEVEL: 'info',
      GEMINI_API_KEY: 'test-key-shutdown',
      GEMINI_BASE_URL: gemini.url,
      GEMINI_TIMEOUT_MS: '8000',
    });
    const proc = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin/imagesearch.js'), 'serve', '--no-setup'],
      {
        cwd: tempDir(),
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    let logs = '';
    proc.stdout?.on('data', (d: Buffer) => {
      logs += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      logs += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;

    await waitFor(
      async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined),
      60_000,
      `readiness (logs: ${logs})`,
    );

    const inflight = fetch(`${base}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'a red bicycle by a wall' }),
    }).then(async (res) => [res.status, (await res.json()) as WebReply] as const);
    // The search is now waiting on the slow Gemini peer.
    await waitFor(async () => (gemini.requests.length > 0 ? true : undefined), 10_000, 'the rerank call');
    proc.kill('SIGTERM');

    // Draining: not ready, new chat messages are turned away kindly.
    const notReady = await waitFor(
      async () => ((await fetch(`${base}/readyz`)).status === 503 ? true : undefined),
      1500,
      'readiness to drop',
    );
    expect(notReady).toBe(true);
    const refused = await fetch(`${base}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'too late' }),
    });
    expect(refused.status).toBe(503);

    const [status, reply] = await inflight;
    expect(status).toBe(200);
    expect(reply.kind).toBe('results');
    expect(reply.kind === 'results' && reply.rankedBy).toBe('gemini');

    expect(await exited, logs).toBe(0);
    expect(logs).toContain('"msg":"shutting down"');
  });
});
