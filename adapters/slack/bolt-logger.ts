/**
 * Bolt and its WebClient log through @slack/logger's interface; route that into our pino logger so
 * there is one log stream, one level and one redaction list (tokens never reach the output).
 */
import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from '../../src/util/logger.ts';

const toSlackLevel: Record<string, LogLevel> = {
  trace: LogLevel.DEBUG,
  debug: LogLevel.DEBUG,
  info: LogLevel.INFO,
  warn: LogLevel.WARN,
  error: LogLevel.ERROR,
  fatal: LogLevel.ERROR,
  silent: LogLevel.ERROR,
};

function split(parts: unknown[]): { err?: Error; msg: string } {
  const err = parts.find((p): p is Error => p instanceof Error);
  const msg = parts
    .filter((p) => p !== err)
    .map((p) => (typeof p === 'string' ? p : safeJson(p)))
    .join(' ');
  return err ? { err, msg } : { msg };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Wraps a pino logger as a Slack SDK logger. `setLevel` from the SDK is ignored: our config decides. */
export function boltLogger(logger: Logger): SlackLogger {
  let child = logger.child({ component: 'slack-sdk' });
  const write = (level: 'debug' | 'info' | 'warn' | 'error', parts: unknown[]) => {
    if (!child.isLevelEnabled(level)) return;
    const { err, msg } = split(parts);
    if (err) child[level]({ err }, msg || err.message);
    else child[level](msg);
  };
  return {
    debug: (...msg: unknown[]) => write('debug', msg),
    info: (...msg: unknown[]) => write('info', msg),
    warn: (...msg: unknown[]) => write('warn', msg),
    error: (...msg: unknown[]) => write('error', msg),
    setLevel: () => {},
    getLevel: () => toSlackLevel[logger.level] ?? LogLevel.INFO,
    setName: (name: string) => {
      child = logger.child({ component: name });
    },
  };
}
