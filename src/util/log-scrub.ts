/**
 * Deep secret scrubbing for log objects and messages. pino's `redact` paths are fixed-depth, but
 * secrets hide deeper: an HTTP client's error carries `config.headers.Authorization`, a config dump
 * puts `slackBotToken` at the top level, an SDK error message may quote a token, a hurried
 * `log.info(\`…${token}\`)` puts one in the message itself. This walks each logged object (bounded
 * depth and size) and blanks values by key name, token-shaped substrings and the exact values of the
 * configured secrets ({@link registerSecretValues}).
 */

export const CENSOR = '[redacted]';

/** Keys whose values are always secret, at any depth (header names, config fields, env names). */
const SECRET_KEY =
  /(authorization|cookie|password|passwd|secret|token|api[-_]?key|state_?url|private[-_]?key|credentials?|secret[-_]?access[-_]?key|access[-_]?key[-_]?id)$/i;
/** Keys that end like a secret but only count things (Gemini usage, tokenizer output). */
const NOT_SECRET_KEY = /^(prompt|output|total|max|input|candidates|thoughts)_?tokens?$/i;

// Token shapes from the services we talk to; replaced wherever they appear inside a string.
const SECRET_TEXT: RegExp[] = [
  /\bxox[abeoprs]-[A-Za-z0-9-]{6,}/g, // Slack bot/user tokens
  /\bxapp-[A-Za-z0-9-]{6,}/g, // Slack app-level tokens
  /\bAIza[0-9A-Za-z_-]{20,}/g, // Google API keys
  /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key ids
  // Discord bot tokens: base64 user id . base64 timestamp . HMAC (the first part grows with the id).
  /\b[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}/g,
  /\bhf_[A-Za-z0-9]{20,}/g, // Hugging Face access tokens
  // A Slack signing secret has no prefix (32 hex digits): recognised where it is named.
  /(?<=signing[\s_-]?secret["'\s]*[:=]?\s*)[0-9a-f]{32}\b/gi,
  /\b(Bearer|Bot|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, // Authorization header values
  /(?<=\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+(?=@)/gi, // passwords in URLs (redis://:pw@host)
  /(?<=[?&](key|token|api_key|access_token)=)[^&\s]+/gi, // secrets in query strings
];

const MAX_DEPTH = 8;
const MAX_KEYS = 200;

/**
 * Exact secret values known to this process (the configured tokens, keys and passwords), longest
 * first so a value that contains another is blanked whole. Shapes catch the tokens we know; these
 * catch the ones without a shape (a signing secret, a Redis password, a token format that changed).
 */
let secretValues: string[] = [];
/** Shorter values would blank ordinary words all over the logs; no real secret is that short. */
const MIN_SECRET_LENGTH = 6;

/** Adds values every log line is scrubbed of from now on (config loading registers the configured secrets). */
export function registerSecretValues(values: Iterable<string | undefined>): void {
  const all = new Set(secretValues);
  for (const v of values) if (v && v.length >= MIN_SECRET_LENGTH) all.add(v);
  secretValues = [...all].sort((a, b) => b.length - a.length);
}

/** The string with every configured secret value and token-shaped substring blanked. */
export function scrubText(text: string): string {
  let out = text;
  for (const value of secretValues) out = out.split(value).join(CENSOR);
  for (const re of SECRET_TEXT)
    out = out.replace(re, (m) =>
      /^(Bearer|Bot|Basic)\s/.test(m) ? `${m.split(/\s/)[0]} ${CENSOR}` : CENSOR,
    );
  return out;
}

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !NOT_SECRET_KEY.test(key);
}

/**
 * A copy of `value` with secret-named keys censored and token-shaped strings blanked. Plain objects,
 * arrays and errors are walked; Buffers and other class instances are kept as they are (pino
 * serialises them itself); cycles and very deep or wide values are cut.
 */
export function scrubSecrets<T>(value: T): T {
  return walk(value, 0, new WeakSet()) as T;
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[deep]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.slice(0, MAX_KEYS).map((v) => walk(v, depth + 1, seen));
    const proto = Object.getPrototypeOf(value) as object | null;
    // Class instances (Buffers, typed arrays, clients) are pino's to serialise.
    const plain = proto === null || proto === Object.prototype || value instanceof Error;
    if (!plain) return value;
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    if (value instanceof Error) {
      // Non-enumerable but worth keeping (and scrubbing): what pino's err serializer would show.
      out.type = value.name;
      out.message = scrubText(value.message);
      if (value.stack) out.stack = scrubText(value.stack);
      if (value.cause !== undefined) out.cause = walk(value.cause, depth + 1, seen);
    }
    for (const key of keys.slice(0, MAX_KEYS)) {
      const v = (value as Record<string, unknown>)[key];
      out[key] =
        isSecretKey(key) && v !== undefined && v !== null && v !== '' ? CENSOR : walk(v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * {@link scrubSecrets} for one pino log object. pino runs `formatters.log` before serializers, so an
 * Error under `err` is left for the err serializer (which scrubs it too and keeps its type name).
 */
export function scrubLogObject(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(obj)) {
    out[key] =
      key === 'err' && v instanceof Error
        ? v
        : isSecretKey(key) && v !== undefined && v !== null && v !== ''
          ? CENSOR
          : scrubSecrets(v);
  }
  return out;
}
