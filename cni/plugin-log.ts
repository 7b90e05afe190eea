/**
 * Logging for the plugin executables: winston JSON lines, on stderr or into a file, never
 * on stdout (which carries the CNI result). winston costs ~30 ms to load, so it is loaded
 * only when there is something to say: an error, or a log file configured with
 * `BERTH_LOG_FILE` (then every operation is logged).
 */
import { createRequire } from 'node:module';
import { berthHome } from '../core/native.js';
import type { BerthError } from '../core/errors.js';
import type * as Winston from 'winston';

export interface OperationRecord {
  readonly plugin: string;
  readonly command: string;
  readonly containerId?: string;
  readonly ifname?: string;
  readonly netns?: string;
  readonly network?: string;
  readonly ms: number;
  readonly error?: BerthError;
}

export function shouldLog(env: Readonly<Record<string, string | undefined>>, failed: boolean): boolean {
  return failed || Boolean(env.BERTH_LOG_FILE);
}

/** Writes one JSON line for the operation. Never throws: logging must not change the outcome. */
export function logOperation(env: Readonly<Record<string, string | undefined>>, rec: OperationRecord): void {
  try {
    const winston = createRequire(`${berthHome()}/package.json`)('winston') as typeof Winston;
    const file = env.BERTH_LOG_FILE;
    const logger = winston.createLogger({
      level: 'info',
      format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
      transports: [file ? new winston.transports.File({ filename: file }) : new winston.transports.Stream({ stream: process.stderr })],
    });
    const fields = {
      plugin: rec.plugin,
      command: rec.command,
      containerId: rec.containerId,
      ifname: rec.ifname,
      netns: rec.netns,
      network: rec.network,
      ms: Math.round(rec.ms * 100) / 100,
    };
    if (rec.error) {
      logger.error(rec.error.message, { ...fields, code: rec.error.code, ...rec.error.fields, ...(rec.error.cause instanceof Error ? { cause: rec.error.cause.message } : {}) });
    } else {
      logger.info(`${rec.command} done`, fields);
    }
    logger.end();
  } catch {
    // No logger available: the error still reaches the runtime through stdout.
  }
}
