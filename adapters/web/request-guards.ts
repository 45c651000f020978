/**
 * The web chat's two request guards, run before any of its routes:
 *
 * - Host allow-list (against DNS rebinding). A page on `evil.example` can make its name resolve to
 *   127.0.0.1; the browser then treats the bot as part of that site and lets the page read the
 *   answers (private photos). The Host header still says `evil.example`, so only names the bot is
 *   known by are served: loopback names, PUBLIC_URL's host, and IP addresses. An IP address can't
 *   be rebound (rebinding needs a name), and load balancers' and orchestrators' health probes
 *   (Kubernetes, ECS, Docker) send the IP they dialled as Host — the same rule Vite's dev server
 *   uses. Anything else gets 421 Misdirected Request.
 * - Origin check (against cross-site posts). A browser names the page that made a POST in Origin;
 *   one from another site is refused with 403. Requests without Origin (curl, scripts, old browsers
 *   on same-origin posts) are not from a foreign page and pass, as before.
 *
 * Other routes on the shared server (Slack's signed events, health, metrics) are not the web
 * chat's and are left alone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpRoute } from '../../src/core/adapter.ts';
import { bareHost, isIpLiteral, isLoopbackHost } from '../../src/util/addresses.ts';

export interface RequestGuardOptions {
  /** PUBLIC_URL: its host is served and its origin may post. */
  publicUrl?: string | undefined;
  /** Is this path one of the web chat's? Only those are guarded. */
  owns(path: string): boolean;
}

/** The host name of a Host header (`name:port`, `[v6]:port`), bare and lower-cased. */
function hostName(header: string): string {
  const h = header.trim();
  if (h.startsWith('[')) return bareHost(h.slice(0, h.indexOf(']') + 1));
  const colon = h.indexOf(':');
  return bareHost(colon >= 0 ? h.slice(0, colon) : h);
}

/** Whether the web chat answers to this Host header. */
export function hostAllowed(header: string | undefined, publicHost: string | undefined): boolean {
  // HTTP/1.0 clients may send none; a browser always does, so this is no rebinding attempt.
  if (header === undefined || header === '') return true;
  const name = hostName(header);
  return isLoopbackHost(name) || isIpLiteral(name) || (publicHost !== undefined && name === publicHost);
}

/** Whether a request with this Origin may change state: same host as it was sent to, or PUBLIC_URL. */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  publicOrigin: string | undefined,
): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // `null` (sandboxed frames, some redirects) and junk
  }
  if (publicOrigin !== undefined && url.origin === publicOrigin) return true;
  // Same origin: the page came from the host this request is addressed to. The scheme is not
  // compared, since a TLS-terminating proxy makes the bot see http for an https page.
  return host !== undefined && url.host === host.trim().toLowerCase();
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function refuse(res: ServerResponse, status: number, text: string): true {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'close',
  });
  res.end(text);
  return true;
}

/** A route that answers only to refuse: mount it before the web chat's own routes. */
export function requestGuard(opts: RequestGuardOptions): HttpRoute {
  const publicUrl = opts.publicUrl ? new URL(opts.publicUrl) : undefined;
  const publicHost = publicUrl ? bareHost(publicUrl.hostname) : undefined;
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!opts.owns(path)) return false;
    if (!hostAllowed(req.headers.host, publicHost)) {
      req.resume();
      // Generic on purpose: the Host header is the attacker's text, so it is not echoed.
      return refuse(
        res,
        421,
        'This address is not one imagesearch answers to. If it is yours, set PUBLIC_URL to it.',
      );
    }
    if (
      STATE_CHANGING.has(req.method ?? '') &&
      !originAllowed(req.headers.origin, req.headers.host, publicUrl?.origin)
    ) {
      req.resume();
      return refuse(res, 403, 'Requests from other sites are not accepted.');
    }
    return false;
  };
}
