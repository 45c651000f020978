import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from './logger.ts';
import type { BotReply, ConversationHandler, Dedupe, StateStore } from './types.ts';

/**
 * An HTTP route mounted on the one shared server (web chat, Slack HTTP mode, /metrics, health).
 * Returns true when it handled the request, false to let the next route try.
 */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/**
 * One chat platform, inbound side. Each adapter parses its platform's events into requests and
 * implements the outbound port of the one request flow (adapters/kit/request-flow.ts: post a
 * placeholder, deliver a reply, tell a failure); the flow owns dedupe, order, limits and errors.
 */
export interface Adapter {
  readonly name: string;
  /** Routes to mount on the shared HTTP server, if the adapter receives HTTP. */
  readonly routes?: HttpRoute[];
  start(): Promise<void>;
  /** Stop taking new work, finish in-flight replies, close connections. */
  stop(): Promise<void>;
}

/**
 * The outbound port: the few things a platform does with an answer, for one request. The request
 * flow (adapters/kit/request-flow.ts) calls it; everything else (dedupe, order, limits, errors,
 * timing) is the flow's.
 */
export interface ReplyPort {
  /**
   * Posts the "searching…" placeholder that roots a new conversation and returns the conversation
   * id it names. Only called when the request has no conversation yet.
   */
  postPlaceholder?(): Promise<string>;
  /**
   * Delivers the core's reply: edits the placeholder, uploads a grid, replies in the thread, or
   * shows an ephemeral notice, as the platform renders `reply`.
   */
  deliver(reply: BotReply): Promise<void>;
  /** Tells the user about a failure (the boundary's last word); `reply.text` is already friendly. */
  fail(reply: BotReply, error: unknown): Promise<void>;
  /** A friendlier text than the error's own for platform failures (Slack's `not_in_channel`). */
  explain?(error: unknown): string | undefined;
}

/** What every adapter factory receives. */
export interface AdapterDeps {
  handler: ConversationHandler;
  logger: Logger;
  /**
   * The shared idempotency keys (the state store's, so atomic across replicas): each delivery is
   * claimed once, before anything is posted. Default: a fresh in-process one.
   */
  dedupe?: Dedupe | undefined;
  /** MAX_CONCURRENT_SEARCHES: replies an adapter builds at once; the rest wait in arrival order. Default 8. */
  maxConcurrent?: number | undefined;
  /**
   * The state store the engine uses (shared by replicas when it is Redis), for what an adapter must
   * remember beyond one request: Slack's result threads, the web chat's images. Default: none, so
   * that memory is the process's own.
   */
  state?: StateStore | undefined;
  /**
   * True when replicas on other machines share `state` (Redis): then bytes a later request may ask
   * any replica for (the web chat's grid URLs) are written there too, not only kept in process.
   */
  replicated?: boolean | undefined;
  /**
   * Optional metrics hook: call after uploading a result (grid or photo) to the platform, with the
   * upload's duration in seconds and whether it succeeded.
   */
  observeUpload?: ((seconds: number, ok: boolean) => void) | undefined;
}
