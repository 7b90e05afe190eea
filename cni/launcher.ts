/**
 * The start-up path of every plugin executable. It runs the plugin's bundle through
 * `vm.Script` with a V8 code cache, one per plugin and CNI command, written after the
 * first run of that command. A plugin is a new process per pod, and compiling the bundle's
 * functions again on every start was about a quarter of a short ADD; with the cache V8
 * skips parsing and compiling.
 *
 * The cache lives in BERTH_CACHE_DIR (default /var/cache/berth), used only when the
 * directory belongs to the running user and no one else can write to it: a code cache is
 * executable code. Any problem with it means "no cache", never a failure.
 *
 * The executable that embeds this file defines `__berthBundle` (the bundle's path) first.
 */
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

declare const __berthBundle: string;

const bundle = __berthBundle;
const fd = openSync(bundle, 'r');
const stat = fstatSync(fd);
const source = readFileSync(fd, 'utf8');
closeSync(fd);

const cacheDir = process.env.BERTH_CACHE_DIR || '/var/cache/berth';
const command = (process.env.CNI_COMMAND || 'none').replace(/[^A-Za-z]/g, '');
const cacheFile = join(cacheDir, `${basename(bundle)}-${command}-${stat.size}-${Math.trunc(stat.mtimeMs)}-${process.version}.v8cache`);

function trustedCacheDir(): boolean {
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const d = lstatSync(cacheDir);
    const uid = process.getuid ? process.getuid() : -1;
    return d.isDirectory() && d.uid === uid && (d.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

let cachedData: Buffer | undefined;
const useCache = trustedCacheDir();
if (useCache) {
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
}

const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source.startsWith('#!') ? source.slice(source.indexOf('\n')) : source}\n})`, {
  filename: bundle,
  ...(cachedData ? { cachedData } : {}),
});

if (useCache && (!cachedData || script.cachedDataRejected)) {
  // Written after the run, so it holds the functions this command actually compiled.
  process.once('exit', () => {
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      renameSync(tmp, cacheFile);
    } catch {
      // No cache this time.
    }
  });
}

const mod = { exports: {} };
(script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void)(mod.exports, require, mod, bundle, dirname(bundle));
