/**
 * The WebSocket half of the local Discord peer: Hello (op 10) → Identify (op 2) → READY +
 * GUILD_CREATE, Heartbeat (op 1) → ACK (op 11), Resume (op 6) → missed events + RESUMED, and
 * test controls to dispatch, redeliver a dispatch and force a reconnect (op 7). JSON, no compression.
 *
 * Identify is checked as Discord checks it (Gateway close event codes, discord-api-docs
 * topics/opcodes-and-status-codes): a token other than the bot's closes with 4004 "Authentication
 * failed."; intent bits Discord does not define close with 4013 "Invalid intent(s)."; a privileged
 * intent (GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT) not enabled for the app in the Developer
 * Portal closes with 4014 "Disallowed intent(s).".
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type {
  APIGuild,
  APIUser,
  GatewayIdentifyData,
  GatewayReceivePayload,
  GatewayResumeData,
} from 'discord.js';
import { WebSocket, WebSocketServer } from 'ws';

/** One stored dispatch (op 0), replayable by its sequence number. */
export interface GatewayEvent {
  s: number;
  t: string;
  d: unknown;
}

interface Session {
  id: string;
  shard: [number, number];
  intents: number;
  seq: number;
  events: GatewayEvent[];
  socket: WebSocket | undefined;
}

/** What the gateway needs to know about the world. */
export interface GatewayPeerWorld {
  botUser: APIUser;
  applicationId: string;
  /** Guild payloads for GUILD_CREATE; each goes to the shard that owns it. */
  guilds: () => APIGuild[];
  heartbeatIntervalMs: number;
  /** Where a client resumes (READY's resume_gateway_url). */
  resumeUrl: () => string;
  /** The bot token Identify must carry. */
  token: string;
  /** Privileged intents enabled for the application (bit set). */
  privilegedIntents: number;
}

/** Privileged intents: GUILD_MEMBERS (1 << 1), GUILD_PRESENCES (1 << 8), MESSAGE_CONTENT (1 << 15). */
export const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15);
/** Every intent bit Discord defines today (GUILDS 1 << 0 … DIRECT_MESSAGE_POLLS 1 << 25). */
const KNOWN_INTENTS = (1 << 26) - 1;

/** The shard that owns a guild: `(guild_id >> 22) % shard_count`, as Discord computes it. */
export function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

export class DiscordGatewayPeer extends EventEmitter {
  readonly wss = new WebSocketServer({ noServer: true });
  readonly identifies: GatewayIdentifyData[] = [];
  readonly resumes: GatewayResumeData[] = [];
  /** Close codes and query strings seen, for assertions about how clients connect. */
  readonly connections: { url: string }[] = [];
  /** Gateway closes the peer sent (4004, 4013, 4014), for assertions. */
  readonly closes: { code: number; reason: string }[] = [];
  heartbeats = 0;
  readonly #sessions = new Map<string, Session>();
  readonly #world: GatewayPeerWorld;

  constructor(world: GatewayPeerWorld) {
    super();
    this.#world = world;
  }

  /** Upgrade handler for the HTTP server (paths `/gateway` and `/gateway-resume`). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req));
  }

  /** Sessions that currently have an open socket. */
  get liveSessions(): number {
    return [...this.#sessions.values()].filter((s) => s.socket?.readyState === WebSocket.OPEN).length;
  }

  /** Resolves once `count` sessions are READY (identified). */
  async waitForSessions(count: number, timeoutMs = 10_000): Promise<void> {
    await waitUntil(() => this.liveSessions >= count, timeoutMs, `${count} gateway session(s)`);
  }

  /** Sends a dispatch to the session owning `guildId` (or every session); returns its sequence number. */
  dispatch(t: string, d: unknown, guildId?: string): number {
    const targets = this.#targets(guildId);
    if (targets.length === 0) throw new Error(`no gateway session for guild ${guildId ?? '(any)'}`);
    let s = 0;
    for (const session of targets) {
      s = ++session.seq;
      const event = { s, t, d: this.#shape(session, t, d) };
      session.events.push(event);
      this.#send(session, { op: 0, ...event });
    }
    return s;
  }

  /** True when some connected session owns `guildId` (REST-only tests have none). */
  hasSessionFor(guildId: string): boolean {
    return this.#targets(guildId).length > 0;
  }

  /** Delivers an already-sent dispatch again with its original sequence (what a replay looks like). */
  redeliver(s: number, guildId?: string): void {
    for (const session of this.#targets(guildId)) {
      const event = session.events.find((e) => e.s === s);
      if (event) this.#send(session, { op: 0, ...event });
    }
  }

  /**
   * Tells clients to reconnect (op 7). Resolves when they have resumed. Events dispatched while a
   * client is away are replayed on resume, like Discord does.
   */
  async forceReconnect(timeoutMs = 10_000): Promise<void> {
    const before = this.resumes.length;
    const live = [...this.#sessions.values()].filter((s) => s.socket?.readyState === WebSocket.OPEN);
    for (const session of live) this.#send(session, { op: 7, d: null });
    await waitUntil(
      () => this.resumes.length >= before + live.length && this.liveSessions >= live.length,
      timeoutMs,
      'resume',
    );
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }

  #targets(guildId: string | undefined): Session[] {
    const all = [...this.#sessions.values()].filter((s) => s.socket);
    if (!guildId) return all;
    return all.filter((s) => shardOf(guildId, s.shard[1]) === s.shard[0]);
  }

  /** Real Discord blanks content of messages the bot can't "see" without the Message Content intent. */
  #shape(session: Session, t: string, d: unknown): unknown {
    const MESSAGE_CONTENT = 1 << 15;
    if ((t !== 'MESSAGE_CREATE' && t !== 'MESSAGE_UPDATE') || session.intents & MESSAGE_CONTENT) return d;
    const m = d as { author?: { id?: string }; mentions?: { id: string }[] };
    const botId = this.#world.botUser.id;
    if (m.author?.id === botId || m.mentions?.some((u) => u.id === botId)) return d;
    return { ...(d as object), content: '', attachments: [], embeds: [], components: [] };
  }

  #send(session: Session, payload: unknown): void {
    if (session.socket?.readyState === WebSocket.OPEN) session.socket.send(JSON.stringify(payload));
  }

  #onConnection(ws: WebSocket, req: IncomingMessage): void {
    this.connections.push({ url: req.url ?? '' });
    let session: Session | undefined;
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.#world.heartbeatIntervalMs } }));
    ws.on('message', (raw) => {
      const payload = JSON.parse(String(raw)) as { op: number; d: unknown };
      switch (payload.op) {
        case 1:
          this.heartbeats++;
          ws.send(JSON.stringify({ op: 11 }));
          break;
        case 2: {
          const refusal = this.#refuseIdentify(payload.d as GatewayIdentifyData);
          if (refusal) {
            this.identifies.push({ ...(payload.d as GatewayIdentifyData), token: '[redacted]' });
            this.closes.push(refusal);
            ws.close(refusal.code, refusal.reason);
            break;
          }
          session = this.#identify(ws, payload.d as GatewayIdentifyData);
          break;
        }
        case 6:
          session = this.#resume(ws, payload.d as GatewayResumeData);
          break;
        default:
          break;
      }
    });
    ws.on('close', () => {
      if (session && session.socket === ws) session.socket = undefined;
    });
  }

  /** The close Discord sends for this Identify, if it refuses it. */
  #refuseIdentify(d: GatewayIdentifyData): { code: number; reason: string } | undefined {
    if (d.token !== this.#world.token) return { code: 4004, reason: 'Authentication failed.' };
    const intents = Number(d.intents);
    if (!Number.isInteger(intents) || intents < 0 || (intents & ~KNOWN_INTENTS) !== 0)
      return { code: 4013, reason: 'Invalid intent(s).' };
    if ((intents & PRIVILEGED_INTENTS & ~this.#world.privilegedIntents) !== 0)
      return { code: 4014, reason: 'Disallowed intent(s).' };
    return undefined;
  }

  #identify(ws: WebSocket, d: GatewayIdentifyData): Session {
    this.identifies.push({ ...d, token: '[redacted]' });
    const shard: [number, number] = d.shard ? [d.shard[0], d.shard[1]] : [0, 1];
    const session: Session = {
      id: randomUUID(),
      shard,
      intents: Number(d.intents),
      seq: 0,
      events: [],
      socket: ws,
    };
    this.#sessions.set(session.id, session);
    const guilds = this.#world.guilds().filter((g) => shardOf(g.id, shard[1]) === shard[0]);
    this.dispatchTo(session, 'READY', {
      v: 10,
      user: this.#world.botUser,
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: this.#world.resumeUrl(),
      shard,
      application: { id: this.#world.applicationId, flags: 0 },
    });
    for (const guild of guilds) this.dispatchTo(session, 'GUILD_CREATE', guild);
    this.emit('identify', shard);
    return session;
  }

  #resume(ws: WebSocket, d: GatewayResumeData): Session | undefined {
    this.resumes.push({ ...d, token: '[redacted]' });
    if (d.token !== this.#world.token) {
      this.closes.push({ code: 4004, reason: 'Authentication failed.' });
      ws.close(4004, 'Authentication failed.');
      return undefined;
    }
    const session = this.#sessions.get(d.session_id);
    if (!session) {
      ws.send(JSON.stringify({ op: 9, d: false }));
      return undefined;
    }
    session.socket = ws;
    for (const event of session.events.filter((e) => e.s > d.seq)) this.#send(session, { op: 0, ...event });
    this.dispatchTo(session, 'RESUMED', null);
    return session;
  }

  private dispatchTo(session: Session, t: string, d: unknown): void {
    const s = ++session.seq;
    const payload = { op: 0, s, t, d } as GatewayReceivePayload;
    if (t !== 'RESUMED' && t !== 'READY') session.events.push({ s, t, d });
    this.#send(session, payload);
  }
}

/** Polls `check` until true (tests wait on the peer's state this way). */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
