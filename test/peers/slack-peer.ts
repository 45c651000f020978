/**
 * A local fake of the Slack Web API (node:http on 127.0.0.1, random port) for the methods the Slack
 * adapter uses, answering in the shapes of test/fixtures/slack (files_*_docs.json,
 * files_upload_v2_flow_node_sdk.json, java-sdk-shape-samples). The real @slack/web-api client talks
 * to it through `slackApiUrl`. Every call is recorded; uploads keep their bytes.
 *
 * The peer holds a small world like a workspace does: channels the bot can see, and the messages
 * in them (posted by the bot, or registered with {@link SlackPeer.addMessage} for what users wrote).
 * It answers the way Slack does when a call names something that is not there: `channel_not_found`
 * for an unknown channel, `message_not_found` for chat.update/chat.delete of an unknown (channel, ts),
 * `cant_update_message`/`cant_delete_message` for a message the bot did not post, and
 * `invalid_thread_ts` for a thread reply whose parent does not exist (see postMessage below).
 *
 * Blocks are checked against Block Kit's documented limits (./slack-blocks.ts) and answered with
 * `invalid_blocks` in Slack's format: `errors` plus `response_metadata.messages` entries like
 * `[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]`. An `image` block
 * with `slack_file` must name a file that was uploaded and completed here (by id, or by its
 * permalink), else `[ERROR] invalid slack file [json-pointer:/blocks/N/slack_file]`, as Slack
 * reports it (slackapi/python-slack-sdk#1797). {@link SlackPeer.imageNotReady} and
 * {@link SlackPeer.imageNeverReady} reproduce Slack refusing files it has not finished processing.
 *
 * Also serves: the upload URLs handed out by files.getUploadURLExternal, `response_url` targets, and
 * private file downloads (bearer token checked) for query-by-image tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import busboy from 'busboy';
import { blockErrors, invalidBlocks } from './slack-blocks.ts';

export interface PeerCall {
  /** Web API method (`chat.postMessage`), or `upload`, `response_url`, `download`. */
  method: string;
  params: Record<string, string>;
  /** Bearer token the call carried, if any. */
  token: string | undefined;
  at: number;
  /** The Slack error the peer answered (`invalid_blocks`, `ratelimited`, …); absent when ok. */
  error?: string;
}

/** A message as the peer stored it (posted, updated, ephemeral or deleted). */
export interface PeerMessage {
  kind: 'message' | 'update' | 'ephemeral' | 'delete';
  channel: string;
  ts: string;
  threadTs: string | undefined;
  text: string | undefined;
  blocks: unknown[] | undefined;
  user: string | undefined;
}

export interface PeerUpload {
  fileId: string;
  filename: string;
  length: number;
  bytes: Buffer | undefined;
  completed: boolean;
  channelId: string | undefined;
  threadTs: string | undefined;
  initialComment: string | undefined;
  title: string | undefined;
  /** files.delete was called for it. */
  deleted: boolean;
}

export interface SlackPeerOptions {
  botToken: string;
  /** Socket Mode: the app-level token (`xapp-…`) apps.connections.open accepts… */
  appToken?: string;
  /** …and the WebSocket URL it hands out (see slack-socket-peer.ts). */
  socketUrl?: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
  /**
   * Channels the bot can see. Default: the channels of the fixture payloads (`C111` in the
   * bolt-python examples, `C123ABC456` in Slack's docs examples).
   */
  channels?: string[];
}

/** A message as it stands in the peer's workspace (after any edits). */
export interface StoredMessage {
  channel: string;
  ts: string;
  threadTs: string | undefined;
  user: string | undefined;
  text: string | undefined;
  blocks: unknown[] | undefined;
}

export interface SlackPeer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `http://127.0.0.1:PORT/api/` — the adapter's SLACK_API_URL. */
  readonly apiUrl: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  readonly calls: PeerCall[];
  readonly messages: PeerMessage[];
  readonly uploads: Map<string, PeerUpload>;
  readonly responses: { id: string; body: Record<string, unknown> }[];
  /** Calls of one method. */
  callsOf(method: string): PeerCall[];
  /** Makes a channel visible to the bot. */
  addChannel(channel: string): void;
  /** Records a message a user (or anyone) wrote, so the bot may reply in its thread. */
  addMessage(channel: string, ts: string, opts?: { user?: string; threadTs?: string; text?: string }): void;
  /** The message at (channel, ts) as it stands now, edits applied; undefined if none or deleted. */
  messageAt(channel: string, ts: string): StoredMessage | undefined;
  /** A response_url that posts back to this peer. */
  responseUrl(id: string): string;
  /** Serves `bytes` at a private URL on this peer (bearer token required); returns the URL. */
  addFile(name: string, bytes: Buffer, mime: string): string;
  /** Makes the next call of `method` fail with Slack error `error` (e.g. `not_in_channel`). */
  failNext(method: string, error: string): void;
  /** Makes the next call of `method` answer HTTP 429 with `Retry-After: seconds`, as Slack's rate limiter does. */
  rateLimitNext(method: string, seconds: number): void;
  /**
   * The next `count` chat.postMessage / chat.update calls whose blocks hold a `slack_file` image fail
   * with `invalid_blocks`, as Slack answers while an upload is still being processed.
   */
  imageNotReady(count: number): void;
  /** While on, every such call fails with `invalid_blocks` (a file that never becomes ready). */
  imageNeverReady(on: boolean): void;
  /** Resolves when `probe` returns a value (polling), or rejects after `timeoutMs`. */
  waitFor<T>(probe: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  /**
   * Forgets what was recorded (calls, message log, responses, uploads) and the failure switches.
   * The workspace itself (channels, messages that exist) stays, as it would in Slack.
   */
  reset(): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Multipart upload bodies (the SDK sends the file as form-data); returns the first file part's bytes. */
function readMultipartFile(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const bb = busboy({ headers: req.headers });
    let file: Buffer | undefined;
    bb.on('file', (_name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        file ??= Buffer.concat(chunks);
      });
    });
    bb.on('close', () => resolve(file ?? Buffer.alloc(0)));
    bb.on('error', reject);
    req.pipe(bb);
  });
}

function parseParams(raw: Buffer, contentType: string | undefined): Record<string, string> {
  const text = raw.toString('utf8');
  if (contentType?.startsWith('application/json')) {
    const obj = JSON.parse(text || '{}') as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(obj).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
  }
  return Object.fromEntries(new URLSearchParams(text));
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice('Bearer '.length) : undefined;
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

export async function startSlackPeer(opts: SlackPeerOptions): Promise<SlackPeer> {
  const teamId = opts.teamId ?? 'T111';
  const botUserId = opts.botUserId ?? 'UBOT0001';
  const botId = opts.botId ?? 'BBOT0001';
  const calls: PeerCall[] = [];
  const messages: PeerMessage[] = [];
  const uploads = new Map<string, PeerUpload>();
  const responses: { id: string; body: Record<string, unknown> }[] = [];
  const files = new Map<string, { bytes: Buffer; mime: string }>();
  const failures = new Map<string, string>();
  const rateLimits = new Map<string, number>();
  const channels = new Set(opts.channels ?? ['C111', 'C123ABC456']);
  /** channel → ts → message: what exists in the workspace. */
  const world = new Map<string, Map<string, StoredMessage>>();
  const store = (m: StoredMessage) => {
    const inChannel = world.get(m.channel) ?? new Map<string, StoredMessage>();
    world.set(m.channel, inChannel);
    inChannel.set(m.ts, m);
  };
  const find = (channel: string | undefined, ts: string | undefined) =>
    channel && ts ? world.get(channel)?.get(ts) : undefined;
  let notReady = 0;
  let neverReady = false;
  let seq = 0;
  let fileSeq = 0;
  let base = '';
  const nextTs = () => {
    seq += 1;
    return `${1_700_000_000 + seq}.${String(seq).padStart(6, '0')}`;
  };

  /**
   * Slack's answer to a `blocks` argument: Block Kit limits first, then image blocks naming files it
   * does not have (or has not finished processing).
   */
  function checkBlocks(raw: string | undefined): Record<string, unknown> | undefined {
    if (raw === undefined) return undefined;
    let blocks: unknown;
    try {
      blocks = JSON.parse(raw);
    } catch {
      return { ok: false, error: 'invalid_blocks_format' };
    }
    const errors = blockErrors(blocks);
    if (errors.length > 0) return invalidBlocks(errors);
    const images = (blocks as { type?: string; slack_file?: { id?: string; url?: string } }[]).flatMap(
      (b, i) => (b.type === 'image' && b.slack_file ? [{ i, f: b.slack_file }] : []),
    );
    if (images.length === 0) return undefined;
    const refused = (i: number) =>
      invalidBlocks([`invalid slack file [json-pointer:/blocks/${i}/slack_file]`]);
    for (const { i, f } of images) {
      // Exactly one of id and url, like Slack.
      if ((f.id === undefined) === (f.url === undefined)) return refused(i);
      const u = f.id
        ? uploads.get(f.id)
        : [...uploads.values()].find((x) => f.url === permalink(x.fileId, x.filename));
      if (!u?.completed || u.deleted) return refused(i);
    }
    if (neverReady) return refused(images[0]!.i);
    if (notReady > 0) {
      notReady -= 1;
      return refused(images[0]!.i);
    }
    return undefined;
  }

  /** `channel_not_found` unless the bot can see the channel. */
  const channelError = (channel: string | undefined) =>
    channel !== undefined && channels.has(channel) ? undefined : { ok: false, error: 'channel_not_found' };

  /** `no_text`: a message needs text or blocks (chat.postMessage / chat.update / chat.postEphemeral docs). */
  const noText = (p: Record<string, string>) =>
    !p.text && (!p.blocks || p.blocks === '[]') && !p.attachments
      ? { ok: false, error: 'no_text' }
      : undefined;

  const permalink = (fileId: string, filename: string) =>
    `https://imagesearch-test.slack.com/files/${botUserId}/${fileId}/${filename}`;

  function api(method: string, p: Record<string, string>): Record<string, unknown> {
    if (method === 'chat.postMessage' || method === 'chat.update' || method === 'chat.postEphemeral') {
      const error = channelError(p.channel) ?? noText(p) ?? checkBlocks(p.blocks);
      if (error) return error;
    }
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://imagesearch-test.slack.com/',
          team: 'imagesearch test',
          user: 'imagesearch',
          team_id: teamId,
          user_id: botUserId,
          bot_id: botId,
          is_enterprise_install: false,
        };
      case 'apps.connections.open':
        return opts.socketUrl
          ? { ok: true, url: opts.socketUrl }
          : { ok: false, error: 'not_allowed_token_type' };
      case 'chat.postMessage': {
        // A reply whose parent is not in the channel: Slack refuses the anchor (`invalid_thread_ts`,
        // the code bots handle when a thread root was deleted, e.g. openclaw's Slack sender retries
        // to the channel on it). A reply's own ts is accepted as the anchor, as Slack does.
        if (p.thread_ts !== undefined && !find(p.channel, p.thread_ts))
          return { ok: false, error: 'invalid_thread_ts' };
        const ts = nextTs();
        const channel = p.channel ?? '';
        const blocks = p.blocks ? (JSON.parse(p.blocks) as unknown[]) : undefined;
        const m: PeerMessage = {
          kind: 'message',
          channel,
          ts,
          threadTs: p.thread_ts,
          text: p.text,
          blocks,
          user: botUserId,
        };
        messages.push(m);
        store({ channel, ts, threadTs: p.thread_ts, user: botUserId, text: p.text, blocks });
        const message: Record<string, unknown> = {
          type: 'message',
          user: botUserId,
          bot_id: botId,
          text: p.text,
          ts,
        };
        if (p.thread_ts) message.thread_ts = p.thread_ts;
        return { ok: true, channel: m.channel, ts, message };
      }
      case 'chat.update': {
        // chat.update docs: message_not_found "No message exists with the requested timestamp",
        // cant_update_message "Authenticated user does not have permission to update this message".
        const target = find(p.channel, p.ts);
        if (!target) return { ok: false, error: 'message_not_found' };
        if (target.user !== botUserId) return { ok: false, error: 'cant_update_message' };
        const blocks = p.blocks ? (JSON.parse(p.blocks) as unknown[]) : undefined;
        target.text = p.text;
        target.blocks = blocks;
        messages.push({
          kind: 'update',
          channel: target.channel,
          ts: target.ts,
          threadTs: undefined,
          text: p.text,
          blocks,
          user: botUserId,
        });
        return { ok: true, channel: p.channel, ts: p.ts, text: p.text };
      }
      case 'chat.postEphemeral': {
        const ts = nextTs();
        messages.push({
          kind: 'ephemeral',
          channel: p.channel ?? '',
          ts,
          threadTs: p.thread_ts,
          text: p.text,
          blocks: undefined,
          user: p.user,
        });
        return { ok: true, message_ts: ts };
      }
      case 'chat.delete': {
        const fail = channelError(p.channel);
        if (fail) return fail;
        const target = find(p.channel, p.ts);
        if (!target) return { ok: false, error: 'message_not_found' };
        if (target.user !== botUserId) return { ok: false, error: 'cant_delete_message' };
        world.get(target.channel)?.delete(target.ts);
        messages.push({
          kind: 'delete',
          channel: p.channel ?? '',
          ts: p.ts ?? '',
          threadTs: undefined,
          text: undefined,
          blocks: undefined,
          user: botUserId,
        });
        return { ok: true, channel: p.channel, ts: p.ts };
      }
      case 'files.getUploadURLExternal': {
        const length = Number(p.length);
        if (!p.filename || !Number.isInteger(length) || length <= 0)
          return { ok: false, error: 'invalid_arguments' };
        fileSeq += 1;
        const fileId = `F${String(fileSeq).padStart(10, '0')}`;
        uploads.set(fileId, {
          fileId,
          filename: p.filename,
          length,
          bytes: undefined,
          completed: false,
          channelId: undefined,
          threadTs: undefined,
          initialComment: undefined,
          title: undefined,
          deleted: false,
        });
        return { ok: true, upload_url: `${base}/upload/v1/${fileId}`, file_id: fileId };
      }
      case 'files.completeUploadExternal': {
        // Sharing into a channel the bot cannot see fails like a post there.
        if (p.channel_id !== undefined) {
          const fail = channelError(p.channel_id);
          if (fail) return fail;
        }
        const list = JSON.parse(p.files ?? '[]') as { id: string; title?: string }[];
        const out: Record<string, unknown>[] = [];
        for (const f of list) {
          const u = uploads.get(f.id);
          if (!u?.bytes) return { ok: false, error: 'file_not_found' };
          u.completed = true;
          u.channelId = p.channel_id;
          u.threadTs = p.thread_ts;
          u.initialComment = p.initial_comment;
          u.title = f.title;
          out.push({
            id: u.fileId,
            name: u.filename,
            title: f.title ?? u.filename,
            mimetype: u.filename.endsWith('.png') ? 'image/png' : 'image/jpeg',
            size: u.bytes.length,
            user: botUserId,
            // Sharing is asynchronous in real Slack: shares are empty in this response.
            shares: {},
            channels: [],
            permalink: permalink(u.fileId, u.filename),
          });
        }
        return { ok: true, files: out };
      }
      case 'files.delete': {
        const u = p.file ? uploads.get(p.file) : undefined;
        if (!u || u.deleted) return { ok: false, error: 'file_not_found' };
        u.deleted = true;
        return { ok: true };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base);
      const token = bearer(req);
      if (req.method === 'POST' && url.pathname.startsWith('/api/')) {
        const method = url.pathname.slice('/api/'.length);
        const params = parseParams(await readBody(req), req.headers['content-type']);
        const callToken = token ?? params.token;
        const call: PeerCall = { method, params, token: callToken, at: Date.now() };
        calls.push(call);
        const answer = (body: Record<string, unknown>) => {
          if (body.ok === false && typeof body.error === 'string') call.error = body.error;
          json(res, body);
        };
        // Like Slack: apps.connections.open takes only the app-level token, everything else the bot token.
        const expected = method === 'apps.connections.open' ? opts.appToken : opts.botToken;
        if (!expected || callToken !== expected) return answer({ ok: false, error: 'invalid_auth' });
        const retryAfter = rateLimits.get(method);
        if (retryAfter !== undefined) {
          rateLimits.delete(method);
          call.error = 'ratelimited';
          res.writeHead(429, { 'retry-after': String(retryAfter), 'content-type': 'application/json' });
          return res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
        }
        const failure = failures.get(method);
        if (failure) {
          failures.delete(method);
          return answer({ ok: false, error: failure });
        }
        return answer(api(method, params));
      }
      if (req.method === 'POST' && url.pathname.startsWith('/upload/v1/')) {
        const fileId = url.pathname.slice('/upload/v1/'.length);
        const isMultipart = req.headers['content-type']?.startsWith('multipart/form-data') ?? false;
        const bytes = isMultipart ? await readMultipartFile(req) : await readBody(req);
        calls.push({
          method: 'upload',
          params: { fileId, size: String(bytes.length) },
          token,
          at: Date.now(),
        });
        const u = uploads.get(fileId);
        if (!u) return res.writeHead(404).end();
        u.bytes = bytes;
        return res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
      }
      if (req.method === 'POST' && url.pathname.startsWith('/response/')) {
        const id = url.pathname.slice('/response/'.length);
        const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as Record<string, unknown>;
        calls.push({ method: 'response_url', params: { id }, token, at: Date.now() });
        responses.push({ id, body });
        return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      }
      if (req.method === 'GET' && url.pathname.startsWith('/files-pri/')) {
        calls.push({ method: 'download', params: { path: url.pathname }, token, at: Date.now() });
        const f = files.get(url.pathname);
        // Real Slack answers an HTML sign-in page to requests without a valid token.
        if (token !== opts.botToken)
          return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>');
        if (!f) return res.writeHead(404).end();
        return res
          .writeHead(200, { 'content-type': f.mime, 'content-length': String(f.bytes.length) })
          .end(f.bytes);
      }
      res.writeHead(404).end();
    })().catch((e: unknown) => {
      res.writeHead(500).end(String(e));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    apiUrl: `${base}/api/`,
    botUserId,
    botId,
    teamId,
    calls,
    messages,
    uploads,
    responses,
    callsOf: (method) => calls.filter((c) => c.method === method),
    addChannel(channel) {
      channels.add(channel);
    },
    addMessage(channel, ts, o = {}) {
      if (find(channel, ts)) return;
      store({ channel, ts, threadTs: o.threadTs, user: o.user, text: o.text, blocks: undefined });
    },
    messageAt: (channel, ts) => find(channel, ts),
    responseUrl: (id) => `${base}/response/${id}`,
    addFile(name, bytes, mime) {
      const path = `/files-pri/${teamId}-F${files.size + 1}/download/${encodeURIComponent(name)}`;
      files.set(path, { bytes, mime });
      return `${base}${path}`;
    },
    failNext(method, error) {
      failures.set(method, error);
    },
    rateLimitNext(method, seconds) {
      rateLimits.set(method, seconds);
    },
    imageNotReady(count) {
      notReady = count;
    },
    imageNeverReady(on) {
      neverReady = on;
    },
    async waitFor<T>(probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = probe();
        if (v !== undefined && v !== false) return v;
        if (Date.now() > deadline) throw new Error('slack peer: timed out waiting');
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    reset() {
      calls.length = 0;
      messages.length = 0;
      responses.length = 0;
      uploads.clear();
      notReady = 0;
      neverReady = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
