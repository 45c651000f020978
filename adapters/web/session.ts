import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Cookie holding the web chat session; the conversation id is `web:<session>`. */
export const SESSION_COOKIE = 'imagesearch_session';
const VALID = /^[A-Za-z0-9_-]{16,64}$/;

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** The request's session id, issuing a new cookie when it has none (or a malformed one). */
export function ensureSession(req: IncomingMessage, res: ServerResponse): string {
  const existing = readCookie(req, SESSION_COOKIE);
  if (existing && VALID.test(existing)) return existing;
  const id = randomBytes(16).toString('base64url');
  // HttpOnly: page scripts never need it. SameSite=Lax: other sites cannot post into someone's chat.
  res.setHeader(
    'set-cookie',
    `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${30 * 24 * 3600}`,
  );
  return id;
}
