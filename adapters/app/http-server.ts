import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpRoute } from '../../src/core/adapter.ts';
import type { Logger } from '../../src/util/logger.ts';

/** Options of {@link createHttpServer}. */
export interface HttpServerOptions {
  /** Tried in order; the first that returns true has answered. */
  routes: HttpRoute[];
  logger: Logger;
  /** Requests declaring a larger Content-Length are refused with 413 before any route runs. Default 16 MiB. */
  maxBodyBytes?: number;
  /** Whole-request deadline (slow uploads included). Default 60 s. */
  requestTimeoutMs?: number;
  /** Deadline for the request headers (slowloris). Default 10 s. */
  headersTimeoutMs?: number;
}

/** The one shared HTTP server: web chat, Slack HTTP mode, /healthz, /readyz and /metrics. */
export interface HttpServer {
  readonly server: Server;
  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host: string): Promise<{ port: number; host: string; url: string }>;
  /** Stops accepting connections and closes idle ones; open requests get 5 s to finish. */
  close(): Promise<void>;
}

export const HTTP_SERVER_DEFAULTS = {
  maxBodyBytes: 16 * 1024 * 1024,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 10_000,
} as const;

/** `/healthz`: the process is up and serving HTTP (readiness is a separate route). */
export const healthRoute: HttpRoute = (req, res) => {
  if (req.url !== '/healthz' && !req.url?.startsWith('/healthz?')) return false;
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : 'ok');
  return true;
};

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const log = opts.logger.child({ component: 'http' });
  const maxBody = opts.maxBodyBytes ?? HTTP_SERVER_DEFAULTS.maxBodyBytes;
  const routes = [healthRoute, ...opts.routes];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) {
      res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end('Request body too large');
      req.resume();
      return;
    }
    try {
      for (const route of routes) {
        if (await route(req, res)) return;
      }
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not found');
    } catch (err) {
      log.error({ err, method: req.method, url: req.url }, 'route failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Internal error');
      } else {
        res.destroy();
      }
    }
  };

  const server = http.createServer(
    {
      requestTimeout: opts.requestTimeoutMs ?? HTTP_SERVER_DEFAULTS.requestTimeoutMs,
      headersTimeout: opts.headersTimeoutMs ?? HTTP_SERVER_DEFAULTS.headersTimeoutMs,
    },
    (req, res) => void handle(req, res),
  );
  // Below typical proxy idle timeouts would cause 502s; above them wastes sockets. 65 s is the common choice.
  server.keepAliveTimeout = 65_000;
  server.on('clientError', (err, socket) => {
    log.debug({ err }, 'bad client request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          const url = `http://${shownHost}:${address.port}`;
          log.info({ url }, 'http server listening');
          resolve({ port: address.port, host: address.address, url });
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        const force = setTimeout(() => server.closeAllConnections(), 5000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
