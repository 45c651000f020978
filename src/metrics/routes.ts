/**
 * Operational HTTP routes mounted on the shared server: `/metrics` (Prometheus text) and `/readyz`
 * (ready to take searches). `/healthz` (alive) is the shared HTTP server's own (adapters/app/http-server.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { HttpRoute } from '../core/adapter.ts';
import type { Metrics } from './metrics.ts';

/** What readiness looks at; each part is read on every probe, so it reflects the current state. */
export interface ReadinessSources {
  /** The loaded CLIP model, or undefined while (or because) it is not loaded. */
  model?:
    | {
        readonly modelId: string;
        readonly variant: string;
        providers(): Promise<{ text?: string; vision?: string }>;
      }
    | undefined;
  /** The loaded vector index. */
  index?: { readonly size: number; readonly modelId: string } | undefined;
  /** The conversation state store (ManagedStateStore). */
  state: { readonly backend: string; readonly available: boolean };
  /** True once shutdown began: load balancers should stop sending work. */
  stopping?: () => boolean;
}

/** Body of `/readyz`: what is loaded, and when not ready, what is wrong. */
export interface ReadinessReport {
  ready: boolean;
  model?: { id: string; variant: string; provider: { text?: string; vision?: string } };
  index?: { size: number; modelId: string };
  state: { backend: string; available: boolean };
  problems: string[];
}

/** Reads every source once and says whether the bot can answer searches now. */
export async function checkReadiness(src: ReadinessSources): Promise<ReadinessReport> {
  const problems: string[] = [];
  const report: ReadinessReport = {
    ready: false,
    state: { backend: src.state.backend, available: src.state.available },
    problems,
  };
  if (src.model) {
    report.model = {
      id: src.model.modelId,
      variant: src.model.variant,
      provider: await src.model.providers(),
    };
    if (!report.model.provider.text) problems.push('the CLIP text encoder is not loaded');
  } else {
    problems.push('the CLIP model is not loaded (IMAGESEARCH_MODEL_DIR)');
  }
  if (src.index) {
    report.index = { size: src.index.size, modelId: src.index.modelId };
    if (src.index.size === 0) problems.push('the index is empty (IMAGESEARCH_INDEX_DIR)');
  } else {
    problems.push('the index is not loaded (IMAGESEARCH_INDEX_DIR)');
  }
  if (!report.state.available)
    problems.push(`the ${report.state.backend} state store is unreachable (STATE_URL)`);
  if (src.stopping?.()) problems.push('shutting down');
  report.ready = problems.length === 0;
  return report;
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0] ?? '/';
}

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

/** Options of {@link metricsRoute}. */
export interface MetricsRouteOptions {
  /** METRICS_TOKEN: when set, only `Authorization: Bearer <token>` is answered; anything else gets 401. */
  token?: string | undefined;
}

/** Constant-time comparison of the presented bearer token with the configured one. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '')?.[1] ?? '';
  // Hashing first gives equal lengths, so timingSafeEqual never throws nor leaks the token's length.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(token));
}

/** `GET /metrics`: Prometheus text exposition (behind a bearer token when one is configured). */
export function metricsRoute(metrics: Metrics, opts: MetricsRouteOptions = {}): HttpRoute {
  return async (req, res) => {
    if (pathOf(req.url) !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    if (opts.token !== undefined && !bearerMatches(req.headers.authorization, opts.token)) {
      res.writeHead(401, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        'www-authenticate': 'Bearer realm="metrics"',
      });
      res.end(req.method === 'HEAD' ? undefined : 'A bearer token is required (METRICS_TOKEN).');
      return true;
    }
    const { contentType, body } = await metrics.expose();
    send(res, 200, contentType, body, req.method === 'HEAD');
    return true;
  };
}

/** `GET /readyz`: 200 with what is loaded when ready, 503 with the problems otherwise. */
export function readinessRoute(src: ReadinessSources): HttpRoute {
  return async (req, res) => {
    if (pathOf(req.url) !== '/readyz' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const report = await checkReadiness(src);
    send(
      res,
      report.ready ? 200 : 503,
      'application/json; charset=utf-8',
      JSON.stringify(report),
      req.method === 'HEAD',
    );
    return true;
  };
}
