import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Adapter, AdapterDeps, HttpRoute } from '../../src/core/adapter.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { BotReply } from '../../src/core/types.ts';
import { clientAddress, type ProxyTrust, TRUST_NOBODY } from '../../src/util/trust-proxy.ts';
import { RequestFlow } from '../kit/request-flow.ts';
import {
  ANONYMOUS_DEFAULTS,
  AnonymousConversations,
  type AnonymousLimits,
} from './anonymous-conversations.ts';
import { type ChatInput, ChatInputError, type ChatInputLimits, readChatInput } from './chat-input.ts';
import { ImageShelf } from './image-shelf.ts';
import { toWebReply, type WebReply } from './reply-json.ts';
import { requestGuard } from './request-guards.ts';
import { ensureSession, session as webSession } from './session.ts';
import {
  BODY_LIMIT_DEFAULTS,
  type BodyLimits,
  FairUploadSlots,
  SLOW_BODY_MESSAGE,
  watchBody,
} from './upload-limits.ts';

/** Options of {@link createWebAdapter}. */
export interface WebAdapterOptions extends AdapterDeps {
  /** Largest image upload accepted. Default 8 MiB. */
  maxUploadBytes?: number;
  /** Uploads read at once; more are answered "busy" unread. Default 4 (with the cap: ≤ 32 MiB held). */
  maxConcurrentUploads?: number;
  /** Of those, at most this many from one client address. Default half of them (./upload-limits.ts). */
  maxUploadsPerClient?: number;
  /** Read deadline and minimum rate of every request body (./upload-limits.ts). */
  bodyLimits?: Partial<BodyLimits>;
  /** Grids and opened photos kept for the page to load. Default 200. */
  imageCacheEntries?: number;
  /** Their total size at most. Default 64 MiB. */
  imageCacheBytes?: number;
  /** PUBLIC_URL: a name the web chat answers to besides loopback names and IP addresses (./request-guards.ts). */
  publicUrl?: string | undefined;
  /**
   * Put grids and photos in the state store too (AdapterDeps.state), so any replica behind a load
   * balancer can serve their URLs. The composition root sets it when the store is Redis.
   */
  shareImages?: boolean;
  /** Which forwarded headers name the client (TRUST_PROXY, TRUST_PROXY_HEADER). Default: none. */
  proxyTrust?: ProxyTrust;
  /** What is kept of a new session's first conversation (./anonymous-conversations.ts). */
  anonymous?: Partial<AnonymousLimits>;
}

/** The web chat adapter: its routes mount on the shared HTTP server (adapters/app/http-server.ts). */
export interface WebAdapter extends Adapter {
  readonly routes: HttpRoute[];
}

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/web/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/web/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};
const IMAGE_PATH = /^\/api\/image\/([0-9a-f-]{36})$/;
/** The paths the web chat owns: its page, its assets and its API. */
const ownsPath = (path: string) => path === '/' || path.startsWith('/web/') || path.startsWith('/api/');
// The page is ours alone: no inline scripts, images only from this origin (grid URLs, uploads' previews).
const CSP =
  "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

function sendJson(res: ServerResponse, status: number, body: WebReply): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    // Answered before its body was read (busy, restarting, too big): close rather than read the
    // rest just to keep the connection.
    ...(res.req.complete ? {} : { connection: 'close' }),
  });
  res.end(JSON.stringify(body));
}

/** The answer while the bot stops: it takes no new work, the client tries again in a moment. */
function restarting(res: ServerResponse): void {
  sendJson(res, 503, {
    kind: 'notice',
    level: 'warn',
    text: 'The bot is restarting — try again in a moment.',
  });
}

/** The request's client address: the socket's, or what trusted proxies forwarded (src/util/trust-proxy.ts). */
function requestAddress(req: IncomingMessage, trust: ProxyTrust): string | undefined {
  return clientAddress(req.socket.remoteAddress, req.headers, trust);
}

/**
 * Local web chat: plain HTML/CSS/JS served by the bot, no build step. One conversation per browser
 * session (`web:<session>`, session id in an HttpOnly cookie); grids are served as real image URLs
 * from the image shelf (./image-shelf.ts).
 */
export function createWebAdapter(opts: WebAdapterOptions): WebAdapter {
  const log = opts.logger.child({ adapter: 'web' });
  const maxUploadBytes = opts.maxUploadBytes ?? 8 * 1024 * 1024;
  const uploads = new FairUploadSlots(opts.maxConcurrentUploads ?? 4, opts.maxUploadsPerClient);
  const bodyLimits: BodyLimits = { ...BODY_LIMIT_DEFAULTS, ...opts.bodyLimits };
  const images = new ImageShelf({
    state: opts.state,
    share: opts.shareImages === true,
    ...(opts.imageCacheEntries !== undefined ? { maxEntries: opts.imageCacheEntries } : {}),
    ...(opts.imageCacheBytes !== undefined ? { maxBytes: opts.imageCacheBytes } : {}),
  });
  const keep = (image: Parameters<ImageShelf['keep']>[0]) => images.keep(image);
  const trust = opts.proxyTrust ?? TRUST_NOBODY;
  const anonymous = new AnonymousConversations({ ...ANONYMOUS_DEFAULTS, ...opts.anonymous }, log);
  // Replies are answered in the HTTP response, so a repeated request id (a browser retry) is given
  // the first reply again: in this process, or from the store when replicas share it.
  const flow = new RequestFlow({
    platform: 'web',
    handler: opts.handler,
    logger: log,
    dedupe: opts.dedupe,
    maxConcurrent: opts.maxConcurrent,
    // No upload metric: the web chat uploads nothing to a platform, its grids are served as URLs.
    ...(opts.state ? { replay: { state: opts.state, shareReplies: opts.replicated === true } } : {}),
  });

  const chat = async (req: IncomingMessage, res: ServerResponse) => {
    if (!flow.accepting) {
      restarting(res);
      return;
    }
    const { id: session, fresh } = webSession(req, res);
    const address = requestAddress(req, trust);
    const input = await readChatPost(req, res, log, address, {
      bodyLimits,
      maxUploadBytes,
      uploads: uploads.forClient(address),
    });
    if (!input) return;
    // Client gone (tab closed): stop the search instead of finishing work nobody will see.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    // A new session's first conversation is kept briefly, or not at all (./anonymous-conversations.ts).
    const retainMs = fresh ? anonymous.retention(address) : undefined;
    const answer = async (reply: BotReply) => {
      if (retainMs !== undefined) anonymous.settle(address, retainMs, reply);
      sendJson(res, 200, await toWebReply(reply, keep));
    };
    // A stop that began while the body was read: the flow takes no more work.
    if (!flow.accepting) {
      restarting(res);
      return;
    }
    await flow.run({
      // Request ids are the client's choice: scoped by session, so two browsers never share one.
      deliveryId: input.requestId ? `${session}:${input.requestId}` : undefined,
      conversationId: `web:${session}`,
      request: (conversationId) => ({
        platform: 'web',
        conversationId,
        userId: `web:${session}`,
        followUp: input.followUp,
        ...(address ? { clientAddress: address } : {}),
        ...(retainMs !== undefined ? { retainMs } : {}),
        ...(input.text !== undefined ? { text: input.text } : {}),
        ...(input.action ? { action: input.action } : {}),
        ...(input.image ? { image: input.image } : {}),
        ...(input.requestId ? { requestId: input.requestId } : {}),
      }),
      port: { deliver: answer, fail: answer },
      signal: abort.signal,
    });
  };

  const chatRoute: HttpRoute = (req, res) => {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/api/chat') return false;
    return flow.track(chat(req, res)).then(() => true);
  };

  return {
    name: 'web',
    routes: [
      requestGuard({ publicUrl: opts.publicUrl, owns: ownsPath }),
      staticRoute(),
      imageRoute(images),
      chatRoute,
    ],
    async start() {
      flow.resume();
      log.info('web chat ready');
    },
    async stop() {
      await flow.drain(10_000);
    },
  };
}

/** The page and its assets, read from disk once. */
function staticRoute(): HttpRoute {
  const files = new Map<string, Buffer>();
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const asset = STATIC[path];
    if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    let body = files.get(asset.file);
    if (!body) {
      body = readFileSync(`${PUBLIC_DIR}${asset.file}`);
      files.set(asset.file, body);
    }
    if (path === '/') ensureSession(req, res);
    res.writeHead(200, {
      'content-type': asset.type,
      'cache-control': 'no-cache',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/** Grids and uploads' previews from the image shelf, by their unguessable ids. */
function imageRoute(images: ImageShelf): HttpRoute {
  return async (req, res) => {
    const match = IMAGE_PATH.exec(req.url ?? '');
    if (!match || req.method !== 'GET') return false;
    const image = await images.get(match[1] ?? '');
    if (!image) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('This image has expired.');
      return true;
    }
    res.writeHead(200, {
      'content-type': image.mime,
      'content-length': image.bytes.length,
      'cache-control': 'private, max-age=86400, immutable',
      'x-content-type-options': 'nosniff',
    });
    res.end(image.bytes);
    return true;
  };
}

/**
 * The chat post, or undefined once it was answered: a body that trickles in is answered 408 and its
 * connection closed, which ends the read and frees its upload slot; one that cannot be read gets its
 * reason.
 */
async function readChatPost(
  req: IncomingMessage,
  res: ServerResponse,
  log: Logger,
  address: string | undefined,
  o: ChatInputLimits & { bodyLimits: BodyLimits },
): Promise<ChatInput | undefined> {
  let cutOff = false;
  const stopWatching = watchBody(req, o.bodyLimits, () => {
    cutOff = true;
    log.info({ address }, 'cut off a slow request body');
    res.once('finish', () => req.destroy());
    sendJson(res, 408, { kind: 'notice', level: 'warn', text: SLOW_BODY_MESSAGE });
  });
  try {
    return await readChatInput(req, { maxUploadBytes: o.maxUploadBytes, uploads: o.uploads });
  } catch (err) {
    if (cutOff) return undefined;
    const status = err instanceof ChatInputError ? err.status : 400;
    const text = err instanceof ChatInputError ? err.message : 'That message could not be read.';
    log.info({ err, status }, 'rejected chat post');
    sendJson(res, status, { kind: 'notice', level: 'warn', text });
    return undefined;
  } finally {
    stopWatching();
  }
}
