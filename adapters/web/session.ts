import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Cookie holding the web chat session; the conversation id is `web:<session>`. */
export const SESSION_COOKIE = 'imagesearch_session';
const VALID = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * A cookie value, or undefined when it is not valid percent-encoding. A cookie set from a sibling
 * subdomain can hold anything; it counts as no session (a new one is issued), never as an error.
 */
function decodeOrUndefined(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** Every value of cookie `name` (a sibling subdomain may plant a second one of the same name). */
function readCookies(req: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || part.slice(0, eq).trim() !== name) continue;
    const value = decodeOrUndefined(part.slice(eq + 1).trim());
    if (value !== undefined) values.push(value);
  }
  return values;
}

/** The request's session id, issuing a new cookie when it has none (or a malformed one). */
export function ensureSession(req: IncomingMessage, res: ServerResponse): string {
  return session(req, res).id;
}

/** The request's session, and whether it was issued by this response (`fresh`: no usable cookie came). */
export function session(req: IncomingMessage, res: ServerResponse): { id: string; fresh: boolean } {
  const existing = readCookies(req, SESSION_COOKIE).find((value) => VALID.test(value));
  if (existing) return { id: existing, fresh: false };
  const id = randomBytes(16).toString('base64url');
  // HttpOnly: page scripts never need it. SameSite=Lax: other sites cannot post into someone's chat.
  res.setHeader(
    'set-cookie',
    `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${30 * 24 * 3600}`,
  );
  return { id, fresh: true };
}
