/**
 * Errors as log fields without secrets or bulk. A discord.js `DiscordAPIError` carries the request
 * URL (webhook routes embed the interaction token) and the request body (our whole JPEG, as a JSON
 * array of bytes): both are reduced before logging.
 */
import { DiscordAPIError, HTTPError } from 'discord.js';

/** Interaction and webhook tokens in REST paths. */
const TOKEN_IN_PATH = /\/(webhooks|interactions)\/(\d+)\/[^/?#]+/g;

export function redactUrl(url: string): string {
  return url.replace(TOKEN_IN_PATH, '/$1/$2/[token]');
}

/** A plain, bounded description of `e` for the `err` log field. */
export function safeError(e: unknown): Record<string, unknown> {
  if (e instanceof DiscordAPIError || e instanceof HTTPError) {
    return {
      type: e.name,
      message: e.message,
      status: e.status,
      method: e.method,
      url: redactUrl(e.url),
      ...(e instanceof DiscordAPIError ? { code: e.code } : {}),
    };
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return {
      type: e.name,
      message: redactUrl(e.message),
      stack: e.stack ? redactUrl(e.stack) : undefined,
      ...(code !== undefined ? { code } : {}),
      ...(e.cause !== undefined ? { cause: safeError(e.cause) } : {}),
    };
  }
  return { message: String(e) };
}
