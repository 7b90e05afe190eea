/**
 * resolv.conf(5) into the CNI result's `dns`, for host-local's `resolvConf` key.
 */
import type { Dns } from '../core/model.js';

/**
 * Reads `nameserver`, `domain`, `search` and `options` lines. As in the C library, a later
 * `search` line replaces an earlier one, while `nameserver` and `options` lines accumulate.
 * Comments start with `#` or `;`; unknown keywords are ignored.
 */
export function parseResolvConf(text: string): Dns {
  const nameservers: string[] = [];
  const options: string[] = [];
  let search: string[] | undefined;
  let domain: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, ...values] = line.split(/\s+/);
    switch (keyword) {
      case 'nameserver':
        if (values[0] !== undefined) nameservers.push(values[0]);
        break;
      case 'domain':
        if (values[0] !== undefined) domain = values[0];
        break;
      case 'search':
        search = values;
        break;
      case 'options':
        options.push(...values);
        break;
    }
  }
  return {
    ...(nameservers.length > 0 ? { nameservers } : {}),
    ...(domain !== undefined ? { domain } : {}),
    ...(search !== undefined && search.length > 0 ? { search } : {}),
    ...(options.length > 0 ? { options } : {}),
  };
}
