/**
 * Signs requests exactly as Slack does: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` keyed
 * with the app's signing secret, sent with `X-Slack-Request-Timestamp` and `X-Slack-Signature`.
 * https://docs.slack.dev/authentication/verifying-requests-from-slack/
 */
import { createHmac } from 'node:crypto';

export function slackSignature(secret: string, timestamp: string | number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SignedPostOptions {
  secret: string;
  contentType?: 'application/x-www-form-urlencoded' | 'application/json';
  /** Seconds since the epoch; default now. */
  timestamp?: number;
  /** Sets X-Slack-Retry-Num / X-Slack-Retry-Reason like a Slack retry. */
  retryNum?: number;
  /** Overrides the computed signature (negative tests). */
  signature?: string;
  /** More headers (a load balancer's routing hint in the multi-replica test). */
  headers?: Record<string, string>;
}

export interface SignedPostResult {
  status: number;
  body: string;
  /** Milliseconds from sending to the full response. */
  ms: number;
}

/** POSTs `body` to `url` with Slack's headers. */
export async function postSigned(
  url: string,
  body: string,
  opts: SignedPostOptions,
): Promise<SignedPostResult> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': opts.signature ?? slackSignature(opts.secret, timestamp, body),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    ...opts.headers,
  };
  if (opts.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(opts.retryNum);
    headers['x-slack-retry-reason'] = 'http_timeout';
  }
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, body: text, ms: performance.now() - started };
}
