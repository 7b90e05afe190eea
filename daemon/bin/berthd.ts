/**
 * `berthd`: berth's node agent. Runs until SIGTERM or SIGINT, then closes its sockets and
 * exits 0. Exit status 2 for a bad command line, 1 when it cannot start.
 */
import { asBerthError } from '../../core/errors.js';
import { startDaemon } from '../berthd.js';
import { USAGE, parseDaemonArgs } from '../config.js';
import { createLog, errorFields } from '../log.js';

async function main(argv: string[]): Promise<number> {
  let config;
  try {
    config = parseDaemonArgs(argv);
  } catch (err) {
    process.stderr.write(`${asBerthError(err).message}\n\n${USAGE}`);
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = createLog({ level: config.logLevel, ...(config.logFile ? { file: config.logFile } : {}) });
  let daemon;
  try {
    daemon = await startDaemon(config, { log });
  } catch (err) {
    const e = asBerthError(err);
    log.error('berthd cannot start', errorFields(e));
    process.stderr.write(`berthd: ${e.message}\n`);
    await log.close();
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info('berthd stopping', { signal });
  await daemon.stop();
  log.info('berthd stopped');
  await log.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`berthd: ${asBerthError(err).message}\n`);
    process.exitCode = 1;
  },
);
