/**
 * Slack ack latency: how long Slack waits for the HTTP response to `/imagesearch <query>` while many
 * arrive at once. Slack gives 3 s; our goal is p99 ≤ 200 ms with 20 in flight, since the ack must
 * never wait for a search. Runs the real adapter (HTTP mode, in a child process: see
 * slack-ack-server.ts) against the local fake Slack Web API with a handler that takes `searchMs` per
 * request, so searches, placeholder posts and uploads overlap the acks.
 *
 *   node bin/run-script.js scripts/bench/slack-ack-bench.ts [requests] [concurrency]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startSlackPeer } from '../../test/peers/slack-peer.ts';
import { postSigned } from '../../test/peers/slack-signing.ts';

/** Options of {@link benchSlackAck}. */
export interface SlackAckBenchOptions {
  /** Commands in flight at once. */
  concurrency: number;
  /** Commands in total. */
  requests: number;
  /** Simulated search time per request (default 50 ms). */
  searchMs?: number;
  /** Commands sent (and answered) before measuring; default `concurrency`. */
  warmup?: number;
}

/** Ack latencies in milliseconds. */
export interface SlackAckBenchResult {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  requests: number;
  concurrency: number;
  /** Results actually delivered (root updated with buttons) by the end. */
  delivered: number;
}

const SECRET = 'bench-signing-secret';
const TOKEN = 'xoxb-bench-token';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export async function benchSlackAck(opts: SlackAckBenchOptions): Promise<SlackAckBenchResult> {
  // The channels body() spreads the commands over must exist, or Slack would answer channel_not_found.
  const channels = Array.from({ length: 5 }, (_, i) => benchChannel(i));
  const peer = await startSlackPeer({ botToken: TOKEN, channels });
  const { child, port } = await startServer({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: peer.apiUrl,
    SEARCH_MS: String(opts.searchMs ?? 50),
  });
  const url = `http://127.0.0.1:${port}/slack/events`;
  const latencies: number[] = [];
  const updates = () => peer.messages.filter((m) => m.kind === 'update').length;
  let warmup = 0;
  let next = 0;
  try {
    // Warm-up: the first commands pay JIT and connection set-up, which a running bot paid long ago.
    warmup = opts.warmup ?? opts.concurrency;
    await Promise.all(
      Array.from({ length: warmup }, (_, i) => postSigned(url, body(-1 - i), { secret: SECRET })),
    );
    await peer.waitFor(() => updates() >= warmup, 60_000);
    const worker = async () => {
      for (let i = next++; i < opts.requests; i = next++) {
        const res = await postSigned(url, body(i + 1), { secret: SECRET });
        if (res.status !== 200) throw new Error(`ack failed: HTTP ${res.status}`);
        latencies.push(res.ms);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
    // Every command (and the warm-up) ends with its root edited into the result.
    await peer.waitFor(() => updates() >= warmup + opts.requests, 60_000);
  } finally {
    await stopServer(child);
    await peer.close();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length)),
    requests: latencies.length,
    concurrency: opts.concurrency,
    delivered: updates() - warmup,
  };

  function body(i: number): string {
    return new URLSearchParams({
      token: 'verification_token',
      team_id: 'T111',
      team_domain: 'bench',
      channel_id: benchChannel(Math.abs(i) % 5),
      channel_name: 'bench',
      user_id: 'U0BENCH',
      user_name: 'bench',
      command: '/imagesearch',
      text: `bench query ${i}`,
      response_url: peer.responseUrl(`bench-${i}`),
      trigger_id: `bench.${i}.${Date.now()}`,
      api_app_id: 'A111',
    }).toString();
  }
}

function benchChannel(n: number): string {
  return `C${String(n).padStart(8, '0')}`;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['bin/run-script.js', 'scripts/bench/slack-ack-server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`slack-ack-server exited (${code})`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  return { child, port };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const requests = Number(process.argv[2] ?? 200);
  const concurrency = Number(process.argv[3] ?? 20);
  const result = await benchSlackAck({ requests, concurrency });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
