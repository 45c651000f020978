import path from 'node:path';
import { z } from 'zod';
import { DEFAULTS, defaultPerAddressLimit } from '../core/defaults.ts';
import { ImageSearchError } from '../core/errors.ts';
import { isLoopbackHost } from './addresses.ts';
import { registerSecretValues } from './log-scrub.ts';
import { parseTrustProxy, TRUST_PROXY_FORMS, type TrustProxy } from './trust-proxy.ts';

/**
 * One schema-validated configuration, read once from the environment (and `.env`, loaded by the CLI).
 * Each field's comment names the variable that sets it. Errors name the variable, never its value.
 */
/** A blank value means the variable is unset (its default applies), as for every string setting. */
const blank = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/**
 * An on/off switch: 1/true/yes/on or 0/false/no/off in any case; blank is unset (`bool`'s fallback,
 * `optionalBool`'s undefined); anything else is refused.
 */
const onOff = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));
const switchText = (v: unknown) => {
  const set = blank(v);
  return typeof set === 'string' ? set.trim().toLowerCase() : set;
};
const bool = (fallback: boolean) => z.preprocess(switchText, onOff.default(fallback));
const optionalBool = z.preprocess(switchText, onOff.optional());

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

/** An http(s) endpoint URL, kept as written. */
const endpointUrl = optionalString.pipe(
  z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:9000' }).optional(),
);

/** A duration object_store understands (`5s`, `500ms`, `2m`). */
const duration = (fallback: string) =>
  optionalString.pipe(
    z
      .string()
      .regex(/^\d+(ms|s|m|h)$/, 'must be a duration such as 500ms, 5s or 2m')
      .default(fallback),
  );

/** A whole number, empty meaning unset. */
const count = (min: number, max: number, fallback: number) =>
  z.preprocess(blank, z.coerce.number().int().min(min).max(max).default(fallback));

/**
 * Object storage for an `s3://` index location: AWS's own variables, with AWS's precedence (the
 * service-specific AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL; AWS_REGION over AWS_DEFAULT_REGION),
 * and imagesearch's client timeouts. Its own block, so src/index/location.ts can parse it alone.
 */
const objectStoreEnv = {
  /** AWS_ENDPOINT_URL: an S3-compatible store (MinIO, R2…); buckets are then addressed by path. */
  AWS_ENDPOINT_URL: endpointUrl,
  /** AWS_ENDPOINT_URL_S3: the same for S3 only; wins over AWS_ENDPOINT_URL, as in AWS's SDKs. */
  AWS_ENDPOINT_URL_S3: endpointUrl,
  /** AWS_ACCESS_KEY_ID: access key (secret). */
  AWS_ACCESS_KEY_ID: optionalString,
  /** AWS_SECRET_ACCESS_KEY: secret key (secret). */
  AWS_SECRET_ACCESS_KEY: optionalString,
  /** AWS_SESSION_TOKEN: temporary credentials' session token (secret). */
  AWS_SESSION_TOKEN: optionalString,
  /** AWS_REGION: the bucket's region. */
  AWS_REGION: optionalString,
  /** AWS_DEFAULT_REGION: the region when AWS_REGION is unset (AWS CLI convention). */
  AWS_DEFAULT_REGION: optionalString,
  /** AWS_ALLOW_HTTP: permit a plain-http endpoint (a local MinIO). */
  AWS_ALLOW_HTTP: bool(false),
  /** AWS_VIRTUAL_HOSTED_STYLE_REQUEST: address buckets by host name even with an endpoint set. */
  AWS_VIRTUAL_HOSTED_STYLE_REQUEST: bool(false),
  /** IMAGESEARCH_S3_CONNECT_TIMEOUT: connect timeout; a wrong endpoint fails at start, not after minutes. */
  IMAGESEARCH_S3_CONNECT_TIMEOUT: duration('5s'),
  /** IMAGESEARCH_S3_TIMEOUT: whole-request timeout. */
  IMAGESEARCH_S3_TIMEOUT: duration('30s'),
  /** IMAGESEARCH_S3_MAX_RETRIES: retries of a failed request. */
  IMAGESEARCH_S3_MAX_RETRIES: count(0, 100, 2),
  /** IMAGESEARCH_S3_RETRY_TIMEOUT: seconds spent retrying one request, at most. */
  IMAGESEARCH_S3_RETRY_TIMEOUT: count(0, 3600, 10),
};

/** Object-storage settings (secrets included: never log this object). */
export interface ObjectStoreSettings {
  /** LanceDB / object_store storage options. */
  options: Record<string, string>;
  /** The variables that shape the connection, for error messages (values never included). */
  variables: string[];
  /** Values that must never appear in a message or log line. */
  secrets: string[];
  endpoint?: string;
}

type ObjectStoreEnv = z.output<z.ZodObject<typeof objectStoreEnv>>;

function toObjectStore(e: ObjectStoreEnv): ObjectStoreSettings {
  const options: Record<string, string> = {
    // Fail within seconds, not after object_store's default three minutes of retries: a
    // misconfigured bucket must stop `serve` at start with a message, not hang it.
    connect_timeout: e.IMAGESEARCH_S3_CONNECT_TIMEOUT,
    timeout: e.IMAGESEARCH_S3_TIMEOUT,
    client_max_retries: String(e.IMAGESEARCH_S3_MAX_RETRIES),
    client_retry_timeout: String(e.IMAGESEARCH_S3_RETRY_TIMEOUT),
  };
  const variables: string[] = [];
  const secrets: string[] = [];
  const endpointVariable = e.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : 'AWS_ENDPOINT_URL';
  const endpoint = e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL;
  if (endpoint) {
    options.aws_endpoint = endpoint;
    // S3-compatible stores on a host:port have no per-bucket DNS names: address buckets by path
    // unless told otherwise (AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true).
    options.aws_virtual_hosted_style_request = String(e.AWS_VIRTUAL_HOSTED_STYLE_REQUEST);
    variables.push(endpointVariable);
  }
  const secret = (option: string, value: string | undefined) => {
    if (value === undefined) return;
    options[option] = value;
    secrets.push(value);
  };
  secret('aws_access_key_id', e.AWS_ACCESS_KEY_ID);
  secret('aws_secret_access_key', e.AWS_SECRET_ACCESS_KEY);
  secret('aws_session_token', e.AWS_SESSION_TOKEN);
  variables.push('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY');
  const region = e.AWS_REGION ?? e.AWS_DEFAULT_REGION;
  if (region) options.aws_region = region;
  variables.push(e.AWS_REGION || !e.AWS_DEFAULT_REGION ? 'AWS_REGION' : 'AWS_DEFAULT_REGION');
  if (e.AWS_ALLOW_HTTP) options.allow_http = 'true';
  if (endpoint?.startsWith('http://')) variables.push('AWS_ALLOW_HTTP=true (a plain-http endpoint)');
  return { options, variables, secrets, ...(endpoint ? { endpoint } : {}) };
}

const objectStoreSchema = z.object(objectStoreEnv).transform(toObjectStore);

/**
 * The object-storage settings in `env` (AWS_* and IMAGESEARCH_S3_*), validated like the rest of the
 * configuration: throws `config_invalid` naming each bad variable, never its value.
 */
export function parseObjectStoreEnv(env: NodeJS.ProcessEnv): ObjectStoreSettings {
  return parseOrThrow(objectStoreSchema, env);
}

function parseOrThrow<T>(schema: z.ZodType<T>, env: NodeJS.ProcessEnv): T {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  throw new ImageSearchError('config_invalid', `Invalid configuration — ${problems.join('; ')}`);
}

const envSchema = z.object({
  /** PORT: HTTP port for the web chat, Slack HTTP mode, /metrics and health. */
  PORT: z.preprocess(blank, z.coerce.number().int().min(0).max(65535).default(3000)),
  /** HOST: interface to listen on. */
  HOST: z.preprocess(blank, z.string().default('127.0.0.1')),
  /**
   * PUBLIC_URL: the address people (and Slack) reach the bot at, behind a proxy or by a name. Its host
   * joins the web chat's Host allow-list and its origin the allowed Origins.
   */
  PUBLIC_URL: publicUrl,
  /** LOG_LEVEL: pino level (default: info for `serve`; one-off commands log warnings only unless it is set). */
  LOG_LEVEL: z.preprocess(
    blank,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  ),
  /** IMAGESEARCH_DATA_DIR: where models, indexes, caches and state live. */
  IMAGESEARCH_DATA_DIR: z.preprocess(blank, z.string().default('data')),
  /** IMAGESEARCH_MODEL_DIR: CLIP model directory (HF export layout). Default: DATA_DIR/models/clip-vit-base-patch32. */
  IMAGESEARCH_MODEL_DIR: optionalString,
  /** IMAGESEARCH_INDEX_DIR: vector index directory, or s3://bucket/prefix (LanceDB). Default: DATA_DIR/index/unsplash-lite. */
  IMAGESEARCH_INDEX_DIR: optionalString,
  /** IMAGESEARCH_LANCE_NPROBES: IVF partitions a LanceDB search probes (default 20; more: better recall, slower). */
  IMAGESEARCH_LANCE_NPROBES: z.preprocess(blank, z.coerce.number().int().min(1).max(100_000).optional()),
  /** IMAGESEARCH_LANCE_REFINE: LanceDB refine factor: k × this candidates re-ranked exactly (default 3; 30 for 1-bit indexes). */
  IMAGESEARCH_LANCE_REFINE: z.preprocess(blank, z.coerce.number().int().min(1).max(1000).optional()),
  /** IMAGESEARCH_INT8_RESCORE: rows the int8 engine re-scores exactly per query (default 100). */
  IMAGESEARCH_INT8_RESCORE: z.preprocess(blank, z.coerce.number().int().min(1).max(100_000).optional()),
  /** IMAGESEARCH_MODEL_VARIANT: which ONNX files to load. */
  IMAGESEARCH_MODEL_VARIANT: z.preprocess(
    blank,
    z.enum(['auto', 'fp32', 'fp16', 'quantized']).default('auto'),
  ),
  /** IMAGESEARCH_EP: execution provider. */
  IMAGESEARCH_EP: z.preprocess(blank, z.enum(['auto', 'cuda', 'webgpu', 'cpu']).default('auto')),
  /** IMAGESEARCH_THREADS: intra-op threads for onnxruntime (0 = onnxruntime's default). */
  IMAGESEARCH_THREADS: z.preprocess(blank, z.coerce.number().int().min(0).max(256).default(0)),
  /** IMAGESEARCH_MIN_SCORE: CLIP cosine below which a photo is never shown (junk floor); -1 disables. */
  IMAGESEARCH_MIN_SCORE: z.preprocess(blank, z.coerce.number().min(-1).max(1).default(DEFAULTS.minScore)),
  /**
   * IMAGESEARCH_NEAR_DUPLICATE: cosine between two photos at or above which the lower-ranked one is a
   * near-duplicate and never shares a grid with the other (bursts, re-uploads, crops); `off` disables.
   */
  IMAGESEARCH_NEAR_DUPLICATE: z.preprocess(
    blank,
    z
      .union([z.literal('off'), z.coerce.number().gt(0).max(1)])
      .default(DEFAULTS.nearDuplicateCosine)
      // Suppression is off above a cosine of 1, which no pair of unit vectors reaches.
      .transform((v) => (v === 'off' ? 2 : v)),
  ),
  /** GEMINI_API_KEY: enables Gemini reranking and query rewriting. */
  GEMINI_API_KEY: optionalString,
  /** GEMINI_MODEL: Gemini model id. */
  GEMINI_MODEL: z.preprocess(blank, z.string().default('gemini-2.5-flash')),
  /** GEMINI_BASE_URL: Gemini API endpoint (tests point it at a local peer). */
  GEMINI_BASE_URL: optionalUrl,
  /** GEMINI_TIMEOUT_MS: hard deadline for one Gemini call. */
  GEMINI_TIMEOUT_MS: z.preprocess(blank, z.coerce.number().int().min(100).max(30_000).default(2500)),
  /** STATE_URL: keyv store. Empty = SQLite file in DATA_DIR; `redis://…` for several replicas. */
  STATE_URL: optionalString,
  /** STATE_TTL_DAYS: how long a conversation is remembered. */
  STATE_TTL_DAYS: z.preprocess(blank, z.coerce.number().min(0.001).max(365).default(DEFAULTS.stateTtlDays)),
  /** RATE_LIMIT_PER_MINUTE: searches per user per minute. */
  RATE_LIMIT_PER_MINUTE: z.preprocess(blank, z.coerce.number().int().min(1).max(100_000).default(20)),
  /** RATE_LIMIT_PER_ADDRESS_PER_MINUTE: web chat searches per client address per minute (default 1.5 × per user). */
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE: z.preprocess(
    blank,
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
  TRUST_PROXY_HEADER: z.preprocess(
    blank,
    z.enum(['x-forwarded-for', 'forwarded']).default('x-forwarded-for'),
  ),
  /** MAX_CONCURRENT_SEARCHES: searches running at once (more wait briefly, then get a "busy" answer). */
  MAX_CONCURRENT_SEARCHES: z.preprocess(blank, z.coerce.number().int().min(1).max(1000).default(8)),
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
  ALLOW_ABSOLUTE_IMAGE_PATHS: bool(false),
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
  DISCORD_MESSAGE_CONTENT: bool(false),
  /** HF_ENDPOINT: Hugging Face hub address for model downloads. */
  HF_ENDPOINT: z.preprocess(blank, z.url().default('https://huggingface.co')),
  /** HF_TOKEN: Hugging Face token, only for gated or private model repositories. */
  HF_TOKEN: optionalString,
  /** IMAGESEARCH_MODEL_REPO: hub repository of the CLIP model. */
  IMAGESEARCH_MODEL_REPO: z.preprocess(blank, z.string().default('Xenova/clip-vit-base-patch32')),
  /** UNSPLASH_LITE_URL: Unsplash Lite archive address. */
  UNSPLASH_LITE_URL: z.preprocess(blank, z.url().default('https://unsplash.com/data/lite/latest')),
  /**
   * WEB_CHAT: serve the web chat. Default: on when HOST is a loopback address, off otherwise — the
   * web chat has no accounts, so anyone who reaches the port could search and open the photos.
   */
  WEB_CHAT: optionalBool,

  // ---- Operations: /metrics access, Gemini cost and quota (docs/operations.md) ----------------
  /** METRICS_TOKEN: when set, `/metrics` answers only `Authorization: Bearer <token>` (Prometheus `authorization`). */
  METRICS_TOKEN: optionalString,
  /**
   * METRICS_PORT: serve `/metrics` on this port (on HOST) instead of the main one, so a firewall or
   * network policy can keep it to Prometheus (0: any free port, for tests).
   */
  METRICS_PORT: z.preprocess(blank, z.coerce.number().int().min(0).max(65535).optional()),
  /** GEMINI_PRICE_INPUT_PER_MTOK: USD per million input tokens (default: GEMINI_MODEL's list price, src/metrics/cost.ts). */
  GEMINI_PRICE_INPUT_PER_MTOK: z.preprocess(blank, z.coerce.number().min(0).max(10_000).optional()),
  /** GEMINI_PRICE_OUTPUT_PER_MTOK: USD per million output tokens, thinking included (default: the model's list price). */
  GEMINI_PRICE_OUTPUT_PER_MTOK: z.preprocess(blank, z.coerce.number().min(0).max(10_000).optional()),
  /** GEMINI_QUOTA_RPM: the project's Gemini requests-per-minute quota, exported for the quota alert (default: Tier 1, 1000). */
  GEMINI_QUOTA_RPM: z.preprocess(blank, z.coerce.number().int().min(1).max(100_000_000).default(1000)),
  /** GEMINI_QUOTA_TPM: the project's Gemini input-tokens-per-minute quota (default: Tier 1, 1,000,000). */
  GEMINI_QUOTA_TPM: z.preprocess(
    blank,
    z.coerce.number().int().min(1).max(100_000_000_000).default(1_000_000),
  ),
  // Blocks of variables kept apart, each with its own reader where one part needs it alone.
  ...objectStoreEnv,
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
    logLevel: e.LOG_LEVEL ?? 'info',
    /** LOG_LEVEL as set (undefined when unset): it wins over a command's own quieter level. */
    explicitLogLevel: e.LOG_LEVEL,
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
      e.RATE_LIMIT_PER_ADDRESS_PER_MINUTE ?? defaultPerAddressLimit(e.RATE_LIMIT_PER_MINUTE),
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
    objectStore: toObjectStore(e),
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
    ...config.objectStore.secrets,
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
  const config = parseOrThrow(configSchema, env);
  registerSecretValues(secretValues(config));
  return config;
}

/** A local path made absolute; a `scheme://` location (s3://bucket/prefix) kept as written. */
export function resolveLocation(p: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : path.resolve(p);
}

/** Every environment variable the configuration reads (docs and `.env.example` list each one). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);
