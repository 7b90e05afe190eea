/**
 * Keys to file names and back. Every key becomes ONE file name in one directory: `/` and every
 * other byte outside `[A-Za-z0-9._-]` is percent-encoded, so no key can name a path outside the
 * store, and `~` (always encoded) is free for the store's own suffixes (`~tmp`).
 */
import { InvalidConfigError } from '../../core/errors.js';

/** Linux NAME_MAX is 255 bytes; leave room for the store's suffixes. */
const MAX_ENCODED_LENGTH = 240;

/**
 * The file name for `key`. Refuses empty keys, empty segments, `.` and `..` segments and
 * control characters, so that every key also reads as a sane path in etcd.
 */
export function encodeKey(key: string): string {
  if (key === '') throw badKey(key, 'a key must not be empty');
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw badKey(key, 'a key is made of non-empty "/"-separated segments other than "." and ".."');
    }
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw badKey(key, 'a key must not contain control characters');
  // encodeURIComponent leaves !'()*~ alone; encode them too so the alphabet is [A-Za-z0-9._-%].
  const encoded = encodeURIComponent(key).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (encoded.length > MAX_ENCODED_LENGTH) {
    throw badKey(key, `the key is too long: it encodes to ${encoded.length} bytes, the limit is ${MAX_ENCODED_LENGTH}`);
  }
  return encoded;
}

/** The key a file name stands for, or undefined when the name is not an encoded key. */
export function decodeKey(name: string): string | undefined {
  if (!/^[A-Za-z0-9._%-]+$/.test(name)) return undefined;
  try {
    const key = decodeURIComponent(name);
    // Only the canonical spelling counts: `a%41` is not the file of key `aA`.
    return encodeKey(key) === name ? key : undefined;
  } catch {
    return undefined;
  }
}

function badKey(key: string, why: string): InvalidConfigError {
  return new InvalidConfigError(`Invalid store key ${JSON.stringify(key)}: ${why}`, { field: 'key', value: key });
}
