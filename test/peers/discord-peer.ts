/**
 * A local Discord peer on 127.0.0.1 for the real discord.js client: REST under `/api/v10` plus
 * the WebSocket gateway (./discord-gateway-peer.ts). Every REST call is recorded, multipart
 * uploads included (payload_json + files[n] bytes, parsed with busboy). Answers follow the shapes
 * of test/fixtures/discord/.
 *
 * Strict where Discord is: message bodies are checked (./discord-messages.ts: 50006 for an empty
 * message, 50035 for content and component limits), an interaction takes exactly one callback (a
 * second gets 400 with code 40060 "Interaction has already been acknowledged.", and follow-ups before
 * the callback get 10015 "Unknown Webhook"), and the gateway checks the token and the privileged
 * intents enabled for the app (4004 / 4014 closes, ./discord-gateway-peer.ts).
 */
import { EventEmitter } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import busboy from 'busboy';
import type { APIChannel, APIGuild, APIInteraction, APIMessage, APIUser } from 'discord.js';
import { DiscordGatewayPeer, waitUntil } from './discord-gateway-peer.ts';
import { messageRefusal } from './discord-messages.ts';
import { buildGuild, discordFixture, snowflake } from './discord-payloads.ts';

/** One uploaded file. */
export interface RecordedFile {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

/** One REST call as the peer saw it (the Authorization header is reduced to whether it matched). */
export interface RecordedCall {
  method: string;
  /** Path after `/api/v10`, e.g. `/channels/123/messages`. */
  path: string;
  query: Record<string, string>;
  authorized: boolean;
  /** JSON body, or the parsed `payload_json` part of a multipart body. */
  body: unknown;
  files: RecordedFile[];
  multipart: boolean;
  status: number;
  at: number;
}

export interface DiscordPeerOptions {
  token?: string;
  applicationId?: string;
  /** Guild ids; each gets one text channel. Default: the fixture's guild. */
  guildIds?: string[];
  heartbeatIntervalMs?: number;
  /** `shards` in GET /gateway/bot (the fixture says 9). */
  recommendedShards?: number;
  /**
   * Privileged intents enabled for the app in the Developer Portal (bit set). Default: Message
   * Content only (1 << 15), as the bot's setup guide asks; an Identify asking for more closes 4014.
   */
  privilegedIntents?: number;
}

type Handler = (req: IncomingMessage, call: RecordedCall, m: RegExpMatchArray) => unknown;

interface InteractionRecord {
  applicationId: string;
  channelId: string;
  guildId?: string | undefined;
  originalId?: string;
  /** The one callback Discord allows has been made. */
  acknowledged?: boolean;
}

export class DiscordPeer extends EventEmitter {
  readonly token: string;
  readonly applicationId: string;
  readonly botUser: APIUser;
  readonly guildIds: string[];
  /** guild id → its text channel id. */
  readonly channelOf = new Map<string, string>();
  readonly calls: RecordedCall[] = [];
  readonly channels = new Map<string, APIChannel & { guild_id?: string }>();
  readonly messages = new Map<string, APIMessage>();
  readonly files = new Map<string, RecordedFile>();
  readonly gateway: DiscordGatewayPeer;
  readonly #interactions = new Map<string, InteractionRecord>();
  readonly #rateLimits: { method: string; path: RegExp; fixture: string; retryAfter: number }[] = [];
  readonly #server = http.createServer((req, res) => void this.#onRequest(req, res));
  readonly #recommendedShards: number;
  #port = 0;

  private constructor(opts: DiscordPeerOptions) {
    super();
    this.token = opts.token ?? 'peer-bot-token';
    this.applicationId = opts.applicationId ?? '1100000000000000001';
    this.botUser = {
      id: this.applicationId,
      username: 'imagesearch',
      discriminator: '0',
      global_name: null,
      avatar: null,
      bot: true,
    };
    this.guildIds = opts.guildIds ?? [
      discordFixture<APIInteraction>('interaction_application_command_chat_input.json').guild_id ??
        '290926798626357999',
    ];
    for (const g of this.guildIds) {
      const channelId = snowflake();
      this.channelOf.set(g, channelId);
      this.channels.set(channelId, {
        id: channelId,
        type: 0,
        guild_id: g,
        name: 'general',
        position: 0,
      } as APIChannel);
    }
    this.#recommendedShards =
      opts.recommendedShards ??
      discordFixture<{ shards: number }>('rest_get_gateway_bot_response.json').shards;
    this.gateway = new DiscordGatewayPeer({
      botUser: this.botUser,
      applicationId: this.applicationId,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 2500,
      guilds: () => this.guildIds.map((g) => this.#guild(g)),
      resumeUrl: () => `ws://127.0.0.1:${this.#port}/gateway-resume`,
      token: this.token,
      privilegedIntents: opts.privilegedIntents ?? 1 << 15,
    });
    this.#server.on('upgrade', (req, socket, head) => this.gateway.handleUpgrade(req, socket, head));
  }

  static async start(opts: DiscordPeerOptions = {}): Promise<DiscordPeer> {
    const peer = new DiscordPeer(opts);
    await new Promise<void>((resolve) => peer.#server.listen(0, '127.0.0.1', resolve));
    peer.#port = (peer.#server.address() as AddressInfo).port;
    return peer;
  }

  /** The REST base to give discord.js (`rest.api`). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.#port}/api`;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get guildId(): string {
    return this.guildIds[0]!;
  }

  get channelId(): string {
    return this.channelOf.get(this.guildId)!;
  }

  /** The next matching request gets a 429 built from a fixture, with a short `retry_after`. */
  rateLimitNext(
    method: string,
    path: RegExp,
    fixture = 'rest_429_user_rate_limit.json',
    retryAfter = 0.4,
  ): void {
    this.#rateLimits.push({ method, path, fixture, retryAfter });
  }

  /** Resolves with the first recorded call (past or future) matching `pred`. */
  async waitForCall(pred: (c: RecordedCall) => boolean, timeoutMs = 10_000): Promise<RecordedCall> {
    await waitUntil(() => this.calls.some(pred), timeoutMs, 'a REST call');
    return this.calls.find(pred)!;
  }

  /** Registers an interaction so its webhook routes can be answered; returns the token. */
  expectInteraction(i: APIInteraction): void {
    this.#interactions.set(i.token, {
      applicationId: i.application_id,
      channelId: i.channel?.id ?? i.channel_id ?? '',
      guildId: i.guild_id,
    });
  }

  async close(): Promise<void> {
    this.gateway.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------------

  #guild(guildId: string): APIGuild {
    const channelIds = [...this.channels.values()]
      .filter((c) => c.guild_id === guildId && c.type === 0)
      .map((c) => c.id);
    const threads = [...this.channels.values()].filter((c) => c.guild_id === guildId && c.type === 11);
    return buildGuild(guildId, channelIds, this.botUser, threads);
  }

  readonly #routes: [string, RegExp, Handler][] = [
    ['GET', /^\/gateway\/bot$/, () => this.#gatewayBot()],
    ['GET', /^\/users\/@me$/, () => this.botUser],
    [
      'GET',
      /^\/channels\/(\d+)$/,
      (_r, _c, m) => this.channels.get(m[1]!) ?? notFound('Unknown Channel', 10003),
    ],
    ['POST', /^\/channels\/(\d+)\/typing$/, () => undefined],
    ['POST', /^\/channels\/(\d+)\/messages$/, (_r, c, m) => this.#createMessage(m[1]!, c)],
    ['PATCH', /^\/channels\/(\d+)\/messages\/(\d+)$/, (_r, c, m) => this.#editMessage(m[2]!, c)],
    [
      'POST',
      /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/,
      (_r, c, m) => this.#startThread(m[1]!, m[2]!, c),
    ],
    ['POST', /^\/interactions\/(\d+)\/([^/]+)\/callback$/, (_r, c, m) => this.#callback(m[2]!, c)],
    ['GET', /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/, (_r, _c, m) => this.#original(m[2]!)],
    [
      'PATCH',
      /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/,
      (_r, c, m) => this.#editOriginal(m[2]!, c),
    ],
    ['POST', /^\/webhooks\/(\d+)\/([^/]+)$/, (_r, c, m) => this.#followUp(m[2]!, c)],
    ['PUT', /^\/applications\/(\d+)\/commands$/, (_r, c) => withIds(c.body)],
    ['PUT', /^\/applications\/(\d+)\/guilds\/(\d+)\/commands$/, (_r, c) => withIds(c.body)],
  ];

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname.startsWith('/attachments/'))
      return this.#serveFile(url.pathname, res);
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v\d+/, '');
    const call: RecordedCall = {
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(url.searchParams),
      authorized: req.headers.authorization === `Bot ${this.token}`,
      body: undefined,
      files: [],
      multipart: false,
      status: 200,
      at: Date.now(),
    };
    try {
      await readBody(req, call);
      const limited = this.#rateLimits.findIndex((r) => r.method === call.method && r.path.test(path));
      if (limited >= 0) {
        const [rl] = this.#rateLimits.splice(limited, 1);
        return this.#reply(res, call, ...rateLimited(rl!.fixture, rl!.retryAfter));
      }
      const route = this.#routes.find(([method, re]) => method === call.method && re.test(path));
      if (!route) return this.#reply(res, call, 404, { message: '404: Not Found', code: 0 });
      const needsAuth = !path.startsWith('/interactions/') && !path.startsWith('/webhooks/');
      if (needsAuth && !call.authorized)
        return this.#reply(res, call, 401, { message: '401: Unauthorized', code: 0 });
      const result = route[2](req, call, path.match(route[1])!);
      if (result instanceof PeerError) return this.#reply(res, call, result.status, result.body);
      return this.#reply(res, call, result === undefined ? 204 : 200, result);
    } catch (e) {
      return this.#reply(res, call, 500, { message: String(e), code: 0 });
    }
  }

  #reply(
    res: ServerResponse,
    call: RecordedCall,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    call.status = status;
    this.calls.push(call);
    this.emit('call', call);
    res.writeHead(status, {
      ...headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  }

  #serveFile(pathname: string, res: ServerResponse): void {
    const file = this.files.get(pathname);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { 'content-type': file.contentType, 'content-length': file.bytes.length })
      .end(file.bytes);
  }

  /** Stores a file so GET {origin}/attachments/… serves it; returns the attachment object. */
  hostFile(channelId: string, file: RecordedFile): APIMessage['attachments'][number] {
    const id = snowflake();
    const pathname = `/attachments/${channelId}/${id}/${file.filename}`;
    this.files.set(pathname, file);
    return {
      id,
      filename: file.filename,
      size: file.bytes.length,
      url: `${this.origin}${pathname}`,
      proxy_url: `${this.origin}${pathname}`,
      content_type: file.contentType,
    };
  }

  #gatewayBot(): unknown {
    const example = discordFixture<{ url: string; shards: number; session_start_limit: object }>(
      'rest_get_gateway_bot_response.json',
    );
    return { ...example, url: `ws://127.0.0.1:${this.#port}/gateway`, shards: this.#recommendedShards };
  }

  #newMessage(channelId: string, call: RecordedCall, extra: Partial<APIMessage> = {}): APIMessage {
    const body = (call.body ?? {}) as Partial<APIMessage> & { message_reference?: { message_id: string } };
    const channel = this.channels.get(channelId);
    const message = {
      id: snowflake(),
      channel_id: channelId,
      ...(channel?.guild_id ? { guild_id: channel.guild_id } : {}),
      author: this.botUser,
      content: body.content ?? '',
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: call.files.map((f) => this.hostFile(channelId, f)),
      embeds: [],
      components: body.components ?? [],
      pinned: false,
      type: body.message_reference ? 19 : 0,
      flags: body.flags ?? 0,
      ...(body.message_reference
        ? { message_reference: { ...body.message_reference, channel_id: channelId } }
        : {}),
      ...extra,
    } as APIMessage;
    this.messages.set(message.id, message);
    if (channel?.guild_id && !(Number(message.flags) & 64) && this.gateway.hasSessionFor(channel.guild_id))
      this.gateway.dispatch('MESSAGE_CREATE', message, channel.guild_id);
    return message;
  }

  #createMessage(channelId: string, call: RecordedCall): unknown {
    if (!this.channels.has(channelId)) return notFound('Unknown Channel', 10003);
    const refused = messageRefusal(call.body, call.files.length);
    if (refused) return new PeerError(refused.status, refused.body);
    return this.#newMessage(channelId, call);
  }

  #editMessage(messageId: string, call: RecordedCall): unknown {
    const message = this.messages.get(messageId);
    if (!message) return notFound('Unknown Message', 10008);
    const refused = messageRefusal(call.body, call.files.length, message);
    if (refused) return new PeerError(refused.status, refused.body);
    const body = (call.body ?? {}) as Partial<APIMessage>;
    const kept = (body.attachments ?? message.attachments).filter((a) =>
      message.attachments.some((m) => m.id === a.id),
    );
    const added = call.files.map((f) => this.hostFile(message.channel_id, f));
    const edited: APIMessage = {
      ...message,
      ...(body.content !== undefined ? { content: body.content } : {}),
      ...(body.components !== undefined ? { components: body.components } : {}),
      attachments: [...kept.map((k) => message.attachments.find((a) => a.id === k.id)!), ...added],
      edited_timestamp: new Date().toISOString(),
    };
    if (body.flags !== undefined) edited.flags = body.flags;
    this.messages.set(messageId, edited);
    return edited;
  }

  #startThread(channelId: string, messageId: string, call: RecordedCall): unknown {
    const parent = this.channels.get(channelId);
    if (!parent || !this.messages.has(messageId)) return notFound('Unknown Message', 10008);
    if (this.channels.has(messageId))
      return new PeerError(400, {
        message: 'A thread has already been created for this message',
        code: 160004,
      });
    const body = call.body as { name: string; auto_archive_duration?: number };
    const thread = {
      id: messageId,
      type: 11,
      guild_id: parent.guild_id,
      parent_id: channelId,
      owner_id: this.botUser.id,
      name: body.name,
      last_message_id: null,
      rate_limit_per_user: 0,
      message_count: 0,
      member_count: 1,
      total_message_sent: 0,
      flags: 0,
      thread_metadata: {
        archived: false,
        auto_archive_duration: body.auto_archive_duration ?? 1440,
        archive_timestamp: new Date().toISOString(),
        locked: false,
      },
    } as unknown as APIChannel & { guild_id?: string };
    this.channels.set(thread.id, thread);
    if (parent.guild_id)
      this.gateway.dispatch('THREAD_CREATE', { ...thread, newly_created: true }, parent.guild_id);
    return thread;
  }

  #callback(token: string, call: RecordedCall): unknown {
    const record = this.#interactions.get(token);
    if (!record) return notFound('Unknown interaction', 10062);
    if (record.acknowledged)
      return new PeerError(400, { message: 'Interaction has already been acknowledged.', code: 40060 });
    const body = call.body as { type: number; data?: Partial<APIMessage> };
    // Types 4 (CHANNEL_MESSAGE_WITH_SOURCE) and 7 (UPDATE_MESSAGE) carry a message; errors sit under `data`.
    if (body.type === 4 || body.type === 7) {
      const refused = messageRefusal(body.data, call.files.length);
      if (refused)
        return new PeerError(refused.status, {
          ...refused.body,
          ...(refused.body.errors ? { errors: { data: refused.body.errors } } : {}),
        });
    }
    record.acknowledged = true;
    let message: APIMessage | undefined;
    if (body.type === 5 || body.type === 4) {
      const loading = body.type === 5 ? 128 : 0;
      message = this.#newMessage(record.channelId, {
        ...call,
        body: { ...body.data, flags: (body.data?.flags ?? 0) | loading },
      });
      record.originalId = message.id;
    }
    if (call.query.with_response !== 'true') return undefined;
    return {
      interaction: {
        id: call.path.split('/')[2],
        type: 2,
        response_message_id: message?.id,
        response_message_loading: body.type === 5,
        response_message_ephemeral: false,
      },
      resource: { type: body.type, ...(message ? { message } : {}) },
    };
  }

  #original(token: string): unknown {
    const id = this.#interactions.get(token)?.originalId;
    return (id && this.messages.get(id)) || notFound('Unknown Message', 10008);
  }

  #editOriginal(token: string, call: RecordedCall): unknown {
    const id = this.#interactions.get(token)?.originalId;
    if (!id) return notFound('Unknown Message', 10008);
    const edited = this.#editMessage(id, call);
    const message = this.messages.get(id);
    if (message) message.flags = Number(message.flags ?? 0) & ~128;
    return edited;
  }

  #followUp(token: string, call: RecordedCall): unknown {
    const record = this.#interactions.get(token);
    // Before the callback there is no webhook for the token yet.
    if (!record?.acknowledged) return notFound('Unknown Webhook', 10015);
    const refused = messageRefusal(call.body, call.files.length);
    if (refused) return new PeerError(refused.status, refused.body);
    return this.#newMessage(record.channelId, call, { webhook_id: record.applicationId });
  }
}

class PeerError {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

function notFound(message: string, code: number): PeerError {
  return new PeerError(404, { message, code });
}

function withIds(body: unknown): unknown {
  return (body as object[]).map((c) => ({ id: snowflake(), version: snowflake(), ...c }));
}

/** A 429 from one of the rate-limit fixtures, with its timing shortened to `retryAfter` seconds. */
function rateLimited(fixture: string, retryAfter: number): [number, unknown, Record<string, string>] {
  const example = discordFixture<{
    status: number;
    headers: Record<string, string>;
    body: Record<string, unknown>;
  }>(fixture);
  const headers: Record<string, string> = { ...example.headers, 'Retry-After': String(retryAfter) };
  delete headers['Content-Type'];
  if (headers['X-RateLimit-Reset-After']) headers['X-RateLimit-Reset-After'] = String(retryAfter);
  if (headers['X-RateLimit-Reset']) headers['X-RateLimit-Reset'] = String(Date.now() / 1000 + retryAfter);
  return [example.status, { ...example.body, retry_after: retryAfter }, headers];
}

/** JSON or multipart (payload_json + files[n]) into the call record. */
async function readBody(req: IncomingMessage, call: RecordedCall): Promise<void> {
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    call.multipart = true;
    await new Promise<void>((resolve, reject) => {
      const bb = busboy({ headers: req.headers });
      bb.on('field', (name, value) => {
        if (name === 'payload_json') call.body = JSON.parse(value);
      });
      bb.on('file', (field, stream, info) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () =>
          call.files.push({
            field,
            filename: info.filename ?? field,
            contentType: info.mimeType,
            bytes: Buffer.concat(chunks),
          }),
        );
      });
      bb.on('close', resolve);
      bb.on('error', reject);
      req.pipe(bb);
    });
    return;
  }
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text) call.body = JSON.parse(text);
}
