/**
 * The settings block inside the native plugin shim (cni/shim/main.go): a marker line and a
 * JSON document padded with spaces to a fixed length, written in place into a copy of the
 * shim's binary. The shim reads it at start; nothing else configures it, so the file keeps
 * working wherever it is copied.
 */
import { InvalidConfigError } from '../core/errors.js';
import { SUPPORTED_VERSIONS } from './version.js';

const MARKER = Buffer.from('BERTH-SHIM-SETTINGS-V1\n');
const BLOCK = 4096;

export interface ShimSettings {
  /** The plugin this copy is (`berth-bridge`); the request names it to berthd. */
  readonly plugin: string;
  /** berthd's CNI socket (BERTH_RUN_DIR in the plugin's environment moves it). */
  readonly socket: string;
  /** The Node binary and the launcher of the in-process plugin, for when berthd is not running. */
  readonly node: string;
  readonly launcher: string;
}

/** A copy of the shim binary `template` carrying `s`. */
export function withShimSettings(template: Buffer, s: ShimSettings): Buffer {
  const at = template.indexOf(MARKER);
  if (at < 0 || template.indexOf(MARKER, at + 1) >= 0) {
    throw new InvalidConfigError('The CNI shim binary has no (or more than one) settings block: rebuild it (npm run build)', { field: 'shim' });
  }
  const json = Buffer.from(JSON.stringify({ ...s, versions: SUPPORTED_VERSIONS }));
  if (json.length > BLOCK) throw new InvalidConfigError(`The shim's settings take ${json.length} bytes, more than its ${BLOCK}-byte block: use shorter paths`, { field: 'shim' });
  const out = Buffer.from(template);
  const start = at + MARKER.length;
  out.fill(0x20, start, start + BLOCK);
  json.copy(out, start);
  return out;
}
