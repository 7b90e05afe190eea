/** The real process as a PluginIo: env, fd 0 and fd 1/2, written synchronously. */
import { readFileSync, writeSync } from 'node:fs';
import { logOperation } from './plugin-log.js';
import type { PluginIo } from './skel.js';

export function processIo(): PluginIo {
  return {
    env: process.env,
    readStdin: () => readFileSync(0),
    writeStdout: (text) => writeAll(1, text),
    writeStderr: (text) => writeAll(2, text),
    log: (record) => logOperation(process.env, record),
  };
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off);
}
