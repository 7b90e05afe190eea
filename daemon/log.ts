/**
 * berthd's logger: winston, one JSON object per line (timestamp, level, message and the
 * structured fields of the event), to stdout or to a file. The rest of berthd sees only the
 * narrow `Log` interface, so tests can pass a silent or collecting one.
 */
import winston from 'winston';
import type { BerthError } from '../core/errors.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** The logging calls berthd makes. `fields` become JSON properties of the line. */
export interface Log {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

export interface LogOptions {
  /** @default 'info' */
  readonly level?: LogLevel;
  /** Append JSON lines to this file instead of writing them to stdout. */
  readonly file?: string;
}

/** A winston logger writing JSON lines. */
export function createLog(options: LogOptions = {}): Log & { close(): Promise<void> } {
  const transport = options.file ? new winston.transports.File({ filename: options.file }) : new winston.transports.Console();
  const logger = winston.createLogger({
    level: options.level ?? 'info',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { service: 'berthd' },
    transports: [transport],
  });
  return {
    error: (m, f) => logger.error(m, f),
    warn: (m, f) => logger.warn(m, f),
    info: (m, f) => logger.info(m, f),
    debug: (m, f) => logger.debug(m, f),
    close: () =>
      new Promise<void>((resolve) => {
        logger.on('finish', () => resolve());
        logger.end();
      }),
  };
}

/** A log that drops everything (tests, tools). */
export const SILENT_LOG: Log = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/** The structured fields of an error, for a log line. */
export function errorFields(e: BerthError): Record<string, unknown> {
  return { code: e.code, error: e.message, ...e.fields };
}
