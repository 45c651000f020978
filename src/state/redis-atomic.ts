/**
 * The atomic operations replicas share through Redis: set-if-absent with a TTL (the {@link Dedupe}
 * port) and GCRA token buckets (the {@link RateBuckets} port). Each is one Redis command, so two
 * replicas racing for the same key can never both win, and every key carries its own expiry.
 */
import type { Dedupe, RateBuckets, RateDecision } from '../core/types.ts';
import type { RedisCommandSender } from './redis-lock.ts';

// GCRA in one script, the same arithmetic as gcraStep (./rate-limit.ts): read the bucket's TAT,
// refuse when the next take would be more than a minute ahead, else store the new TAT with a TTL of
// "until the bucket is full again". The caller's clock is used (not Redis TIME) so every backend
// shares one arithmetic and tests can drive time; replicas' clocks agree far closer than a token.
const GCRA_SCRIPT = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nexttat = tat + interval
local ahead = nexttat - now
if ahead > window + 1 then return {0, math.ceil(ahead - window)} end
redis.call('SET', KEYS[1], string.format('%.17g', nexttat), 'PX', math.max(1, math.ceil(ahead)))
return {1, 0}
`;

/** Key prefixes, so these keys never meet keyv's (conversation state) or the locks'. */
export const REDIS_CLAIM_PREFIX = 'imagesearch:claim:';
export const REDIS_BUCKET_PREFIX = 'imagesearch:rate:';

/** `SET key 1 NX PX ttl`: the first claim wins, repeats see the key until it expires. */
export class RedisDedupe implements Dedupe {
  readonly #client: RedisCommandSender;

  constructor(client: RedisCommandSender) {
    this.#client = client;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const ok = await this.#client.sendCommand<string | null>([
      'SET',
      `${REDIS_CLAIM_PREFIX}${key}`,
      // Stryker disable next-line StringLiteral: only whether SET … NX wrote the key is read, never its value
      '1',
      'NX',
      'PX',
      String(Math.max(1, Math.ceil(ttlMs))),
    ]);
    return ok === 'OK';
  }
}

/** GCRA buckets, one Lua script per take (atomic on the Redis server). */
export class RedisBuckets implements RateBuckets {
  readonly #client: RedisCommandSender;
  readonly #now: () => number;

  constructor(client: RedisCommandSender, now: () => number = Date.now) {
    this.#client = client;
    this.#now = now;
  }

  async take(key: string, perMinute: number): Promise<RateDecision> {
    const reply = await this.#client.sendCommand<[number, number]>([
      'EVAL',
      GCRA_SCRIPT,
      '1',
      `${REDIS_BUCKET_PREFIX}${key}`,
      String(this.#now()),
      String(60_000 / perMinute),
      '60000',
    ]);
    return reply[0] === 1 ? { ok: true } : { ok: false, retryAfterMs: Number(reply[1]) };
  }
}
