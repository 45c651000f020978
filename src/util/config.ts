import path from 'node:path';
import { z } from 'zod';
import { ImageSearchError } from '../core/errors.ts';
import { isLoopbackHost } from './addresses.ts';
import { registerSecretValues } from './log-scrub.ts';
import { parseTrustProxy, TRUST_PROXY_FORMS, type TrustProxy } from './trust-proxy.ts';

/**
 * One schema-validated configuration, read once from the environment (and `.env`, loaded by the CLI).
 * Each field's comment names the variable that sets it. Errors name the variable, never its value.
 */
const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const optionalUrl = optionalString.pipe(z.url().optional());

/** An http(s) address people reach the bot at, kept as its origin (`https://bot.example.com`). */
const publicUrl = optionalString.pipe(
  z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://bot.example.com' })
    .transform((u) => new URL(u).origin)
    .optional(),
);

const envSchema = z.object({
  /** PORT: HTTP port for the web chat, Slack HTTP mode, /metrics and health. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** HOST: interface to listen on. */
  HOST: z.string().default('127.0.0.1'),
  /**
   * PUBLIC_URL: the address people (and Slack) reach the bot at, behind a proxy or by a name. Its host
   * joins the web chat's Host allow-list and its origin the allowed Origins.
   */
  PUBLIC_URL: publicUrl,
  /** LOG_LEVEL: pino level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** IMAGESEARCH_DATA_DIR: where models, indexes, caches and state live. */
  IMAGESEARCH_DATA_DIR: z.string().default('data'),
  /** IMAGESEARCH_MODEL_DIR: CLIP model directory (HF export layout). Default: DATA_DIR/models/clip-vit-base-patch32. */
  IMAGESEARCH_MODEL_DIR: optionalString,
  /** IMAGESEARCH_INDEX_DIR: vector index directory, or s3://bucket/prefix (LanceDB). Default: DATA_DIR/index/unsplash-lite. */
  IMAGESEARCH_INDEX_DIR: optionalString,
  /** IMAGESEARCH_LANCE_NPROBES: IVF partitions a LanceDB search probes (default 20; more: better recall, slower). */
  IMAGESEARCH_LANCE_NPROBES: z.coerce.number().int().min(1).max(100_000).optional(),
  /** IMAGESEARCH_LANCE_REFINE: LanceDB refine factor: k × this candidates re-ranked exactly (default 3; 30 for 1-bit indexes). */
  IMAGESEARCH_LANCE_REFINE: z.coerce.number().int().min(1).max(1000).optional(),
  /** IMAGESEARCH_INT8_RESCORE: rows the int8 engine re-scores exactly per query (default 100). */
  IMAGESEARCH_INT8_RESCORE: z.coerce.number().int().min(1).max(100_000).optional(),
  /** IMAGESEARCH_MODEL_VARIANT: which ONNX files to load. */
  IMAGESEARCH_MODEL_VARIANT: z.enum(['auto', 'fp32', 'fp16', 'quantized']).default('auto'),
  /** IMAGESEARCH_EP: execution provider. */
  IMAGESEARCH_EP: z.enum(['auto', 'cuda', 'webgpu', 'cpu']).default('auto'),
  /** IMAGESEARCH_THREADS: intra-op threads for onnxruntime (0 = onnxruntime's default). */
  IMAGESEARCH_THREADS: z.coerce.number().int().min(0).max(256).default(0),
  /** IMAGESEARCH_MIN_SCORE: CLIP cosine below which a photo is never shown (junk floor); -1 disables. */
  IMAGESEARCH_MIN_SCORE: z.coerce.number().min(-1).max(1).default(0.15),
  /**
   * IMAGESEARCH_NEAR_DUPLICATE: cosine between two photos at or above which the lower-ranked one is a
   * near-duplicate and never shares a grid with the other (bursts, re-uploads, crops); `off` disables.
   */
  IMAGESEARCH_NEAR_DUPLICATE: z
    .union([z.literal('off'), z.coerce.number().gt(0).max(1)])
    .default(0.98)
    // Suppression is off above a cosine of 1, which no pair of unit vectors reaches.
    .transform((v) => (v === 'off' ? 2 : v)),
  /** GEMINI_API_KEY: enables Gemini reranking and query rewriting. */
  GEMINI_API_KEY: optionalString,
  /** GEMINI_MODEL: Gemini model id. */
  GEMINI_MODEL: z.string().default('gemini-2.5-flash'),
  /** GEMINI_BASE_URL: Gemini API endpoint (tests point it at a local peer). */
  GEMINI_BASE_URL: optionalUrl,
  /** GEMINI_TIMEOUT_MS: hard deadline for one Gemini call. */
  GEMINI_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(2500),
  /** STATE_URL: keyv store. Empty = SQLite file in DATA_DIR; `redis://…` for several replicas. */
  STATE_URL: optionalString,
  /** STATE_TTL_DAYS: how long a conversation is remembered. */
  STATE_TTL_DAYS: z.coerce.number().min(0.001).max(365).default(7),
  /** RATE_LIMIT_PER_MINUTE: searches per user per minute. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(20),
  /** RATE_LIMIT_PER_ADDRESS_PER_MINUTE: web chat searches per client address per minute (default 1.5 × per user). */
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce.number().int().min(1).max(1_000_000).optional(),
  ),
  /**
   * TRUST_PROXY: which proxies' forwarded headers name the client (per-address rate limits). Empty
   * or 0: none (the socket's address counts); N: the nearest N hops; or proxy addresses/CIDR ranges.
   */
  TRUST_PROXY: optionalString.transform((v, ctx): TrustProxy => {
    const parsed = parseTrustProxy(v);
    if (parsed) return parsed;
    ctx.addIssue({ code: 'custom', message: TRUST_PROXY_FORMS });
    return z.NEVER;
  }),
  /** TRUST_PROXY_HEADER: the header those proxies write: `x-forwarded-for` (default) or `forwarded` (RFC 7239). */
  TRUST_PROXY_HEADER: z.enum(['x-forwarded-for', 'forwarded']).default('x-forwarded-for'),
  /** MAX_CONCURRENT_SEARCHES: searches running at once (more wait briefly, then get a "busy" answer). */
  MAX_CONCURRENT_SEARCHES: z.coerce.number().int().min(1).max(1000).default(8),
  /**
   * IMAGE_HOSTS: comma-separated image hosts the operator runs or trusts (`*.example.com` for
   * subdomains): fetched from on any port and at private addresses. The index's own hosts are
   * allowed too, but only on their scheme's port at public addresses (src/util/guarded-fetch.ts).
   */
  IMAGE_HOSTS: optionalString,
  /**
   * IMAGES_DIR: the folder local photos may be served from (default IMAGESEARCH_DATA_DIR). An index
   * whose photo folder lies outside it is refused (src/index/photo-folder.ts).
   */
  IMAGES_DIR: optionalString,
  /** ALLOW_ABSOLUTE_IMAGE_PATHS: serve an index built with --allow-absolute-paths (photos anywhere). */
  ALLOW_ABSOLUTE_IMAGE_PATHS: bool.default(false),
  /** SLACK_BOT_TOKEN: enables the Slack adapter (with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN). */
  SLACK_BOT_TOKEN: optionalString,
  /** SLACK_SIGNING_SECRET: verifies Slack HTTP requests. */
  SLACK_SIGNING_SECRET: optionalString,
  /** SLACK_APP_TOKEN: `xapp-…` token; when set, Socket Mode is used instead of HTTP. */
  SLACK_APP_TOKEN: optionalString,
  /** SLACK_API_URL: Slack Web API base (tests point it at a local peer). */
  SLACK_API_URL: optionalUrl,
  /** DISCORD_TOKEN: enables the Discord adapter. */
  DISCORD_TOKEN: optionalString,
  /** DISCORD_APPLICATION_ID: needed to register the /imagesearch command. */
  DISCORD_APPLICATION_ID: optionalString,
  /** DISCORD_API_URL: Discord REST base (tests point it at a local peer). */
  DISCORD_API_URL: optionalUrl,
  /** DISCORD_MESSAGE_CONTENT: set when the privileged Message Content intent is enabled for the bot. */
  DISCORD_MESSAGE_CONTENT: bool.default(false),
  /** HF_ENDPOINT: Hugging Face hub address for model downloads. */
  HF_ENDPOINT: z.url().default('https://huggingface.co'),
  /** HF_TOKEN: Hugging Face token, only for gated or private model repositories. */
  HF_TOKEN: optionalString,
  /** IMAGESEARCH_MODEL_REPO: hub repository of the CLIP model. */
  IMAGESEARCH_MODEL_REPO: z.string().default('Xenova/clip-vit-base-patch32'),
  /** UNSPLASH_LITE_URL: Unsplash Lite archive address. */
  UNSPLASH_LITE_URL: z.url().default('https://unsplash.com/data/lite/latest'),
  /**
   * WEB_CHAT: serve the web chat. Default: on when HOST is a loopback address, off otherwise — the
   * web chat has no accounts, so anyone who reaches the port could search and open the photos.
   */
  WEB_CHAT: bool.optional(),

  // ---- Operations: /metrics access, Gemini cost and quota (docs/operations.md) ----------------
  /** METRICS_TOKEN: when set, `/metrics` answers only `Authorization: Bearer <token>` (Prometheus `authorization`). */
  METRICS_TOKEN: optionalString,
  /**
   * METRICS_PORT: serve `/metrics` on this port (on HOST) instead of the main one, so a firewall or
   * network policy can keep it to Prometheus (0: any free port, for tests).
   */
  METRICS_PORT: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce.number().int().min(0).max(65535).optional(),
  ),
  /** GEMINI_PRICE_INPUT_PER_MTOK: USD per million input tokens (default: GEMINI_MODEL's list price, src/metrics/cost.ts). */
  GEMINI_PRICE_INPUT_PER_MTOK: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce.number().min(0).max(10_000).optional(),
  ),
  /** GEMINI_PRICE_OUTPUT_PER_MTOK: USD per million output tokens, thinking included (default: the model's list price). */
  GEMINI_PRICE_OUTPUT_PER_MTOK: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce.number().min(0).max(10_000).optional(),
  ),
  /** GEMINI_QUOTA_RPM: the project's Gemini requests-per-minute quota, exported for the quota alert (default: Tier 1, 1000). */
  GEMINI_QUOTA_RPM: z.coerce.number().int().min(1).max(100_000_000).default(1000),
  /** GEMINI_QUOTA_TPM: the project's Gemini input-tokens-per-minute quota (default: Tier 1, 1,000,000). */
  GEMINI_QUOTA_TPM: z.coerce.number().int().min(1).max(100_000_000_000).default(1_000_000),
});

/**
 * The validated configuration: the environment schema mapped onto the names the code uses. `Config`
 * is its inferred type, so the schema and the type cannot drift apart.
 */
const configSchema = envSchema.transform((e) => {
  const dataDir = path.resolve(e.IMAGESEARCH_DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL,
    logLevel: e.LOG_LEVEL,
    dataDir,
    modelDir: path.resolve(e.IMAGESEARCH_MODEL_DIR ?? path.join(dataDir, 'models', 'clip-vit-base-patch32')),
    indexDir: resolveLocation(e.IMAGESEARCH_INDEX_DIR ?? path.join(dataDir, 'index', 'unsplash-lite')),
    indexSearch: {
      ...(e.IMAGESEARCH_LANCE_NPROBES ? { nprobes: e.IMAGESEARCH_LANCE_NPROBES } : {}),
      ...(e.IMAGESEARCH_LANCE_REFINE ? { refineFactor: e.IMAGESEARCH_LANCE_REFINE } : {}),
      ...(e.IMAGESEARCH_INT8_RESCORE ? { rescore: e.IMAGESEARCH_INT8_RESCORE } : {}),
    },
    modelVariant: e.IMAGESEARCH_MODEL_VARIANT,
    executionProvider: e.IMAGESEARCH_EP,
    threads: e.IMAGESEARCH_THREADS,
    minScore: e.IMAGESEARCH_MIN_SCORE,
    nearDuplicateCosine: e.IMAGESEARCH_NEAR_DUPLICATE,
    geminiApiKey: e.GEMINI_API_KEY,
    geminiModel: e.GEMINI_MODEL,
    geminiBaseUrl: e.GEMINI_BASE_URL,
    geminiTimeoutMs: e.GEMINI_TIMEOUT_MS,
    stateUrl: e.STATE_URL,
    stateTtlMs: Math.round(e.STATE_TTL_DAYS * 24 * 3600 * 1000),
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    rateLimitPerAddressPerMinute:
      e.RATE_LIMIT_PER_ADDRESS_PER_MINUTE ?? Math.ceil(e.RATE_LIMIT_PER_MINUTE * 1.5),
    proxyTrust: { trust: e.TRUST_PROXY, header: e.TRUST_PROXY_HEADER },
    maxConcurrentSearches: e.MAX_CONCURRENT_SEARCHES,
    imageHosts: (e.IMAGE_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
    imagesDir: path.resolve(e.IMAGES_DIR ?? dataDir),
    allowAbsoluteImagePaths: e.ALLOW_ABSOLUTE_IMAGE_PATHS,
    slackBotToken: e.SLACK_BOT_TOKEN,
    slackSigningSecret: e.SLACK_SIGNING_SECRET,
    slackAppToken: e.SLACK_APP_TOKEN,
    slackApiUrl: e.SLACK_API_URL,
    discordToken: e.DISCORD_TOKEN,
    discordApplicationId: e.DISCORD_APPLICATION_ID,
    discordApiUrl: e.DISCORD_API_URL,
    discordMessageContent: e.DISCORD_MESSAGE_CONTENT,
    hfEndpoint: e.HF_ENDPOINT,
    hfToken: e.HF_TOKEN,
    modelRepo: e.IMAGESEARCH_MODEL_REPO,
    unsplashLiteUrl: e.UNSPLASH_LITE_URL,
    webChat: e.WEB_CHAT ?? isLoopbackHost(e.HOST),
    // Operations (one block): /metrics access, Gemini price overrides and quota.
    metricsToken: e.METRICS_TOKEN,
    metricsPort: e.METRICS_PORT,
    geminiPriceOverride: {
      inputPerMTok: e.GEMINI_PRICE_INPUT_PER_MTOK,
      outputPerMTok: e.GEMINI_PRICE_OUTPUT_PER_MTOK,
    },
    geminiQuota: { requestsPerMinute: e.GEMINI_QUOTA_RPM, tokensPerMinute: e.GEMINI_QUOTA_TPM },
  };
});

export type Config = z.infer<typeof configSchema>;

/** The values of every secret-bearing variable (the password only, of a `STATE_URL`). */
export function secretValues(config: Config): string[] {
  const values = [
    config.slackBotToken,
    config.slackSigningSecret,
    config.slackAppToken,
    config.discordToken,
    config.geminiApiKey,
    config.hfToken,
    config.metricsToken,
  ];
  try {
    const state = config.stateUrl ? new URL(config.stateUrl) : undefined;
    if (state?.password) values.push(state.password, decodeURIComponent(state.password));
  } catch {
    // Not a URL (a file path): nothing secret in it.
  }
  return values.filter((v): v is string => Boolean(v));
}

/**
 * Parses the environment. Throws `config_invalid` naming each bad variable (never its value).
 * The configured secrets are handed to the log scrubber here, the one place every process reads
 * them, so no logger created anywhere can print them, whatever their shape.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ImageSearchError('config_invalid', `Invalid configuration — ${problems.join('; ')}`);
  }
  registerSecretValues(secretValues(parsed.data));
  return parsed.data;
}

/** A local path made absolute; a `scheme://` location (s3://bucket/prefix) kept as written. */
export function resolveLocation(p: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : path.resolve(p);
}
