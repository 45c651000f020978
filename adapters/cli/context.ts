/**
 * What every command shares: configuration from the environment (+ .env) with command-line
 * overrides, a logger, and where results and notes are printed; plus the argument parsers and
 * options more than one command takes.
 */
import path from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import { type Config, loadConfig, resolveLocation } from '../../src/util/config.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { stripUndefined } from '../../src/util/objects.ts';
import { ENGINES } from '../app/data.ts';

/** Shared by every command: configuration from env (+ .env) with command-line overrides. */
export interface CliContext {
  config(overrides?: { [K in keyof Config]?: Config[K] | undefined }): Config;
  logger(config?: Config): Logger;
  out(line: string): void;
  /** Warnings and notes for the person at the terminal (stderr), apart from results. */
  err(line: string): void;
}

export function defaultCliContext(): CliContext {
  return {
    config: (overrides = {}) => ({ ...loadConfig(), ...(stripUndefined(overrides) as Partial<Config>) }),
    // Commands print results on stdout; logs (stderr) stay quiet unless LOG_LEVEL asks for more.
    logger: (config) => createLogger({ level: config?.explicitLogLevel ?? config?.logLevel ?? 'warn' }),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

export const positiveInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer.`);
  return n;
};

/** A folder or file made absolute. */
export const abs = (p: string | undefined) => (p ? path.resolve(p) : undefined);
/** An index location: a folder made absolute, or an s3:// URI as written. */
export const loc = (p: string | undefined) => (p ? resolveLocation(p) : undefined);

export const engineOption = () =>
  new Option(
    '--engine <engine>',
    'flat (exact, default) | int8 (exact, compressed) | lancedb (ANN, object storage)',
  ).choices(ENGINES);

export const annMinRowsOption = () =>
  new Option(
    '--ann-min-rows <n>',
    'lancedb: build the ANN index from this many rows on (default 10000)',
  ).argParser(positiveInt('--ann-min-rows'));
