import pino, { type Logger } from 'pino';
import { scrubLogObject, scrubSecrets, scrubText } from './log-scrub.ts';

export type { Logger } from '../core/logger.ts';

/** Paths pino blanks out wherever they appear in a log object. Secrets never reach the logs. */
export const REDACT_PATHS = [
  'token',
  'apiKey',
  'api_key',
  'password',
  'secret',
  'authorization',
  '*.token',
  '*.apiKey',
  '*.api_key',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers["x-goog-api-key"]',
  'config.slackBotToken',
  'config.slackSigningSecret',
  'config.slackAppToken',
  'config.discordToken',
  'config.geminiApiKey',
  'config.stateUrl',
  // A config object logged as the whole log object (`logger.info(config)`).
  'slackBotToken',
  'slackSigningSecret',
  'slackAppToken',
  'discordToken',
  'geminiApiKey',
  'stateUrl',
];

export interface LoggerOptions {
  level?: string;
  /** Pretty output for humans; defaults to true when stdout is a terminal. */
  pretty?: boolean;
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  // The level comes from the caller (Config's LOG_LEVEL): the configuration is the one reader of the environment.
  const level = opts.level ?? 'info';
  const options: pino.LoggerOptions = {
    level,
    base: { app: 'imagesearch' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Fixed redact paths miss secrets nested deeper (an HTTP error's config.headers.Authorization)
    // or quoted inside messages: scrub every logged object and error by key name and token shape.
    serializers: {
      // The std serializer returns an object with its own prototype: copy it so the scrubber walks it.
      // It passes anything but an object through, and spreading a string would log it as {0:…, 1:…}.
      err: (e: unknown) =>
        e !== null && typeof e === 'object'
          ? scrubSecrets({ ...pino.stdSerializers.err(e as Error) })
          : scrubSecrets(e),
    },
    formatters: { log: (o) => scrubLogObject(o), bindings: (b) => scrubLogObject(b) },
    // The message string (and printf-style arguments) never pass through the formatters: scrub
    // them here, so `log.info(\`… ${token}\`)` cannot leak what the object scrubbing would catch.
    hooks: {
      logMethod(args, method) {
        const clean = args.map((a) => (typeof a === 'string' ? scrubText(a) : a)) as typeof args;
        return method.apply(this, clean);
      },
    },
  };
  if (opts.destination) return pino(options, opts.destination);
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && !process.env.CI);
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: 2 } } });
  }
  // Logs go to stderr so CLI output on stdout stays machine-readable.
  return pino(options, pino.destination(2));
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
