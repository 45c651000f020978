/**
 * Several replicas behind a load balancer, for real: a Redis server this test owns (append-only
 * file, as docker-compose.yml configures it), two `imagesearch serve` processes over the tiny model
 * sharing it, and Debian's nginx round-robin in front, running the server block the repository
 * ships (deploy/nginx.conf). The Slack peer's events and the web chat go through nginx only;
 * `X-Replica: a|b` asks nginx to prefer one replica (the other is its backup), so the test decides
 * which replica answers what, and nginx's access log shows who did.
 *
 * Shown: a Slack request answered on one replica is continued on the other, and a retry of it on
 * either is dropped (exactly one answer each); a thread the bot joined on one replica is recognised
 * on the other; web grid URLs load from either replica; SIGKILL of a replica costs nothing but the
 * retry nginx does; a Redis restart loses no conversation and repeats no answer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebReply } from '../../adapters/web/reply-json.ts';
import { type SlackPeer, startSlackPeer } from '../peers/slack-peer.ts';
import { postSigned, type SignedPostResult } from '../peers/slack-signing.ts';
import { BOT_TOKEN, nextTs, SIGNING_SECRET, slackFixture, unique } from '../slack/harness.ts';
import { IMAGES_DIR, REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { getSmallIndexDir, getTinyModelDir } from '../support/models.ts';
import { type NginxHandle, nginxBinary, startNginx } from '../support/nginx.ts';
import { freePort, type RedisHandle, redisServerInstalled, startRedis } from '../support/redis-server.ts';

const nginx = nginxBinary();
const haveRedis = redisServerInstalled();
const skipReason = !haveRedis
  ? 'redis-server is not installed (apt-get install redis-server)'
  : !nginx
    ? 'nginx is not installed (apt-get install nginx-light)'
    : undefined;
if (skipReason) console.warn(`skipping the multi-replica test: ${skipReason}`);

type Json = Record<string, unknown>;
type Pin = 'a' | 'b';

/** One `imagesearch serve` child process and its log lines (pino JSON on stderr). */
interface Replica {
  name: Pin;
  url: string;
  hostPort: string;
  child: ChildProcess;
  logs: string[];
}

async function startReplica(name: Pin, env: NodeJS.ProcessEnv): Promise<Replica> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin', 'imagesearch.js'), 'serve', '--no-setup'],
    { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const logs: string[] = [];
  let pending = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`replica ${name} did not start:\n${logs.join('\n')}`)),
      60_000,
    );
    child.stderr?.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      logs.push(...lines.filter(Boolean));
      if (logs.some((l) => l.includes('imagesearch is ready'))) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica ${name} exited with ${code}:\n${logs.join('\n')}`));
    });
  });
  await ready;
  return { name, url: `http://127.0.0.1:${port}`, hostPort: `127.0.0.1:${port}`, child, logs };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 20_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe.skipIf(skipReason !== undefined)('two replicas behind nginx, sharing Redis', () => {
  let redis: RedisHandle;
  let lb: NginxHandle;
  let peer: SlackPeer;
  const replicas = {} as Record<Pin, Replica>;
  const started = Date.now();

  beforeAll(async () => {
    const [modelDir, indexDir] = [await getTinyModelDir(), await getSmallIndexDir()];
    redis = await startRedis({ persistDir: tempDir('imagesearch-redis-') });
    peer = await startSlackPeer({ botToken: BOT_TOKEN, teamId: 'T111' });
    const { PATH, HOME, TMPDIR } = process.env;
    const env = (name: Pin): NodeJS.ProcessEnv => ({
      PATH,
      HOME,
      TMPDIR,
      HOST: '127.0.0.1',
      IMAGESEARCH_DATA_DIR: tempDir(`imagesearch-replica-${name}-`),
      IMAGESEARCH_MODEL_DIR: modelDir,
      IMAGESEARCH_INDEX_DIR: indexDir,
      IMAGES_DIR,
      IMAGESEARCH_MIN_SCORE: '-1',
      IMAGESEARCH_EP: 'cpu',
      IMAGESEARCH_THREADS: '1',
      STATE_URL: redis.url,
      // nginx is the one proxy in front: its X-Forwarded-For entry names the client.
      TRUST_PROXY: '1',
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: peer.apiUrl,
      LOG_LEVEL: 'info',
    });
    const [a, b] = await Promise.all([startReplica('a', env('a')), startReplica('b', env('b'))]);
    replicas.a = a;
    replicas.b = b;
    lb = await startNginx(nginx ?? 'nginx', { a: a.hostPort, b: b.hostPort });
    console.log(`[replicas] started in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    for (const r of Object.values(replicas)) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        const exited = new Promise((done) => r.child.once('exit', done));
        r.child.kill('SIGTERM');
        await exited;
      }
    }
    await lb?.stop();
    await peer?.close();
    await redis?.stop();
    console.log(`[replicas] wall time ${Date.now() - started} ms`);
  });

  // ---- Slack through the load balancer -------------------------------------------------------

  const signed = (
    body: string,
    pin: Pin,
    opts: { json?: boolean; retry?: number } = {},
  ): Promise<SignedPostResult> =>
    postSigned(`${lb.url}/slack/events`, body, {
      secret: SIGNING_SECRET,
      contentType: opts.json ? 'application/json' : 'application/x-www-form-urlencoded',
      headers: { 'x-replica': pin },
      ...(opts.retry ? { retryNum: opts.retry } : {}),
    });

  const commandBody = (text: string) =>
    new URLSearchParams({
      ...slackFixture<Record<string, string>>('slash_command_bolt_python.json'),
      command: '/imagesearch',
      text,
      trigger_id: unique('trig.'),
      response_url: peer.responseUrl(unique('cmd')),
    }).toString();

  const messageEvent = (threadTs: string, text: string, parentUserId: string) => {
    const env = slackFixture('event_message_thread_reply_bolt_python.json') as Json & { event: Json };
    const ts = nextTs();
    return JSON.stringify({
      ...env,
      event_id: unique('Ev'),
      event: {
        ...env.event,
        user: 'W111',
        text,
        ts,
        event_ts: ts,
        thread_ts: threadTs,
        parent_user_id: parentUserId,
      },
    });
  };

  const mentionEvent = (threadTs: string, text: string) => {
    const env = slackFixture('event_app_mention_bolt_python.json') as Json & { event: Json };
    const ts = nextTs();
    return JSON.stringify({
      ...env,
      event_id: unique('Ev'),
      event: {
        ...env.event,
        user: 'W111',
        text: `<@${peer.botUserId}> ${text}`,
        ts,
        event_ts: ts,
        thread_ts: threadTs,
      },
    });
  };

  const clickBody = (actionId: string, messageTs: string, threadTs: string) => {
    const body = slackFixture('block_actions_bolt_python.json') as Json & {
      actions: Json[];
      container: Json;
    };
    const payload = {
      ...body,
      trigger_id: unique('trig.'),
      response_url: peer.responseUrl(unique('act')),
      actions: [{ ...body.actions[0], action_id: actionId, value: actionId, action_ts: nextTs() }],
      container: { ...body.container, message_ts: messageTs, thread_ts: threadTs, is_ephemeral: false },
      message: { type: 'message', ts: messageTs, thread_ts: threadTs, user: peer.botUserId, text: 'Results' },
    };
    return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  };

  const completed = () => [...peer.uploads.values()].filter((u) => u.completed);
  /** Result messages (with the grid) in a thread, oldest first: the root's update, then thread posts. */
  const results = (threadTs: string) =>
    peer.messages.filter(
      (m) => (m.kind === 'update' && m.ts === threadTs) || (m.kind === 'message' && m.threadTs === threadTs),
    );
  const queryOf = (text: string | undefined) => /Results for “([^”]+)”/.exec(text ?? '')?.[1];
  const duplicatesLogged = (r: Replica) =>
    r.logs.filter((l) => l.includes('slack: duplicate delivery ignored')).length;
  const upstreamsOf = (pin: Pin, uri: string) =>
    lb.accessLog().filter((l) => l.includes(` ${uri} `) && l.endsWith(`pin=${pin}`));

  let slashThread = '';
  const retries: { body: string; json: boolean }[] = [];

  it('Slack: slash command on A, thread reply and button click on B, a retry of each on A — one answer each, one conversation', async () => {
    const command = commandBody('red bicycle');
    expect((await signed(command, 'a')).status).toBe(200);
    // Slack retries a delivery whose ack it did not see; here the retry comes at once, on both replicas.
    expect((await signed(command, 'a', { retry: 1 })).status).toBe(200);
    expect((await signed(command, 'b', { retry: 2 })).status).toBe(200);
    const root = await until(
      () => peer.messages.find((m) => m.kind === 'message' && !m.threadTs && m.text?.includes('red bicycle')),
      'the slash command root',
    );
    slashThread = root.ts;
    await until(() => results(slashThread).length === 1, 'the first grid');
    expect(queryOf(results(slashThread)[0]?.text)).toBe('red bicycle');

    const reply = messageEvent(slashThread, 'at night', peer.botUserId);
    expect((await signed(reply, 'b', { json: true })).status).toBe(200);
    expect((await signed(reply, 'a', { json: true, retry: 1 })).status).toBe(200);
    await until(() => results(slashThread).length === 2, 'the refinement');
    // The refinement continued the conversation A started.
    expect(queryOf(results(slashThread)[1]?.text)).toBe('red bicycle, at night');

    const latest = results(slashThread)[1]?.ts ?? '';
    const click = clickBody('is:more:2', latest, slashThread);
    expect((await signed(click, 'b')).status).toBe(200);
    expect((await signed(click, 'a', { retry: 1 })).status).toBe(200);
    await until(() => results(slashThread).length === 3, 'the "more like 2" grid');
    expect(queryOf(results(slashThread)[2]?.text)).toBe('red bicycle, at night (more like #2)');
    retries.push({ body: reply, json: true }, { body: click, json: false });

    // Nothing more comes: every retry was dropped.
    await sleep(1500);
    expect(results(slashThread)).toHaveLength(3);
    expect(completed()).toHaveLength(3);
    expect(
      upstreamsOf('b', '/slack/events').every((l) => l.includes(`upstream=${replicas.b.hostPort}`)),
    ).toBe(true);
    // Each replica's log arrives through a pipe: on a loaded machine a line can trail the answers.
    // Four copies were dropped (the slash command's two retries, one each of the thread reply and
    // the click): which replica drops a copy depends on which claims the delivery first (each acks
    // before claiming, so a copy sent right after another may claim first), not on the order sent.
    const dropped = () => duplicatesLogged(replicas.a) + duplicatesLogged(replicas.b);
    await until(() => dropped() >= 4, 'the replicas to log the dropped retries');
    expect(dropped()).toBe(4);
    console.log(
      `[replicas] slack retries dropped: A logged ${duplicatesLogged(replicas.a)}, B ${duplicatesLogged(replicas.b)} "slack: duplicate delivery ignored"; uploads ${completed().length}`,
    );
  });

  it('Slack: a thread the bot joined on A (a mention in a person’s thread) is recognised on B', async () => {
    // The thread's root is a person's message, so Slack's parent_user_id is theirs, not the bot's:
    // only the shared thread registry tells B that a plain reply there is for the bot.
    const userThread = nextTs();
    const mention = mentionEvent(userThread, 'green hills');
    // The person's root message exists in Slack (the strict peer refuses replies in unknown threads).
    const { channel } = (JSON.parse(mention) as { event: { channel: string } }).event;
    peer.addMessage(channel, userThread, { user: 'W222' });
    expect((await signed(mention, 'a', { json: true })).status).toBe(200);
    await until(() => results(userThread).length === 1, 'the mention grid');
    // Retried after the Redis restart below: only Redis remembers that A answered it.
    retries.push({ body: mention, json: true });
    expect((await signed(messageEvent(userThread, '4 more', 'W222'), 'b', { json: true })).status).toBe(200);
    await until(() => results(userThread).length === 2, 'the "4 more" grid from B');
    expect(queryOf(results(userThread)[1]?.text)).toBe('green hills');
  });

  // ---- The web chat through the load balancer ------------------------------------------------

  let cookie = '';
  const shown: string[] = [];
  let lastPicks: string[] = [];

  async function chat(body: Json, pin: Pin): Promise<WebReply> {
    const res = await fetch(`${lb.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ requestId: unique('web-').replace('.', ''), ...body }),
      headers: { 'content-type': 'application/json', 'x-replica': pin, ...(cookie ? { cookie } : {}) },
    });
    const set = res.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0] ?? '';
    expect(res.status).toBe(200);
    return (await res.json()) as WebReply;
  }

  /** Every image URL must load from either replica: the GET may reach any of them. */
  async function loadsEverywhere(url: string): Promise<void> {
    for (const pin of ['a', 'b'] as const) {
      const res = await fetch(`${lb.url}${url}`, { headers: { 'x-replica': pin } });
      expect(res.status, `${url} via ${pin}`).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^image\//);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
  }

  async function grid(reply: WebReply): Promise<string[]> {
    if (reply.kind !== 'results') throw new Error(`expected results, got ${reply.kind}: ${reply.text}`);
    await loadsEverywhere(reply.gridUrl);
    const ids = reply.picks.map((p) => p.id);
    expect(ids.filter((id) => shown.includes(id))).toEqual([]);
    shown.push(...ids);
    lastPicks = ids;
    return ids;
  }

  it('web chat: query on A, "4 more" on B, "more like 2" on A — every grid URL loads from both', async () => {
    expect(await grid(await chat({ text: 'a cat on a sofa' }, 'a'))).toHaveLength(4);
    expect(await grid(await chat({ text: '4 more', followUp: '1' }, 'b'))).toHaveLength(4);
    expect((await grid(await chat({ action: 'is:more:2', followUp: '1' }, 'a'))).length).toBeGreaterThan(0);
  });

  it('SIGKILL of replica A mid-conversation: the next messages are answered by B, conversations intact', async () => {
    replicas.a.child.kill('SIGKILL');
    await until(() => replicas.a.child.signalCode === 'SIGKILL' || undefined, 'replica A to die', 5000);

    const opened = await chat({ text: 'open 1', followUp: '1' }, 'a');
    expect(opened.kind === 'open' && opened.id).toBe(lastPicks[0]);
    if (opened.kind === 'open' && opened.imageUrl) {
      const res = await fetch(`${lb.url}${opened.imageUrl}`);
      expect(res.status).toBe(200);
    }
    const failover = upstreamsOf('a', '/api/chat').at(-1) ?? '';
    // nginx tried A (refused), then B: both addresses in one log entry.
    expect(failover).toContain(`upstream=${replicas.a.hostPort}, ${replicas.b.hostPort}`);
    console.log(`[replicas] after SIGKILL of A, nginx: ${failover}`);

    const before = completed().length;
    expect(
      (await signed(messageEvent(slashThread, 'open 1', peer.botUserId), 'a', { json: true })).status,
    ).toBe(200);
    const photo = await until(
      () => completed().find((u) => u.channelId !== undefined && u.threadTs === slashThread),
      'the opened photo in the Slack thread',
    );
    expect(photo.initialComment).toMatch(/^#1/);
    expect(completed()).toHaveLength(before + 1);
  });

  it('Redis restarted mid-run: a friendly note while it is down, then no lost conversation and no duplicate answer', async () => {
    const b = replicas.b;
    await redis.stop({ graceful: true });
    await until(
      () => b.logs.some((l) => l.includes('state store unavailable')) || undefined,
      'B to notice',
      10_000,
    );
    const during = await chat({ text: 'open 2', followUp: '1' }, 'b');
    expect(during.kind).toBe('notice');
    expect(during.text).toMatch(/can't reach my memory/);

    await redis.start();
    await until(
      async () => (await fetch(`${b.url}/readyz`)).status === 200 || undefined,
      'B ready again',
      15_000,
    );
    // The log line may trail the readiness answer by a moment (pino writes asynchronously).
    await until(
      () => b.logs.some((l) => l.includes('state store recovered')) || undefined,
      'B to log its recovery',
      5000,
    );
    const recovered = b.logs.filter((l) => l.includes('state store recovered'));
    expect(recovered.length).toBeGreaterThan(0);

    // The web conversation survived the restart...
    const opened = await chat({ text: 'open 2', followUp: '1' }, 'b');
    expect(opened.kind === 'open' && opened.id).toBe(lastPicks[1]);
    // ...and so did the Slack retry keys: retries of deliveries answered before the restart are dropped.
    const uploads = completed().length;
    const duplicatesBefore = duplicatesLogged(b);
    for (const r of retries) expect((await signed(r.body, 'b', { json: r.json, retry: 3 })).status).toBe(200);
    expect(
      (await signed(messageEvent(slashThread, 'open 3', peer.botUserId), 'b', { json: true })).status,
    ).toBe(200);
    await until(() => completed().length === uploads + 1, 'the "open 3" photo');
    await sleep(1000);
    expect(completed()).toHaveLength(uploads + 1);
    expect(duplicatesLogged(b) - duplicatesBefore).toBe(retries.length);
    console.log(
      `[replicas] Redis restart: B logged ${b.logs.filter((l) => l.includes('state store unavailable')).length} "state store unavailable", ${recovered.length} "state store recovered"; ${retries.length} retries after it dropped; uploads ${completed().length}`,
    );
  });
});
