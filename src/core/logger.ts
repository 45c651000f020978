/**
 * The one injected logger's type (pino's), so contracts can name it without depending on how
 * loggers are made (src/util/logger.ts makes them).
 */
export type { Logger } from 'pino';
