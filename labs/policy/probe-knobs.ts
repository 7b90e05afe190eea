/**
 * Kernel knobs a probing lab sets in the namespace that forwards its pods' traffic. They are
 * per network namespace: a lab sets them only in a namespace made for it, never in the
 * machine's own.
 *
 * - ICMP errors are rate-limited (6 in a burst per destination, then one a second), and the
 *   policy's reject answers a denied connection with one. A lab probes many pairs at once, so
 *   under the limits some denials would arrive as timeouts, or a burst would stall the probes.
 * - A UDP conntrack entry lives 30 s (120 s once replied to more than once), and while it lives
 *   it lets the same 5-tuple through whatever the policy now says. Labs made one after another
 *   give their pods the same addresses, so a probe could meet an entry an earlier lab's allowed
 *   probe left; with a 1 s life no entry outlasts the lab that made it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const KNOBS: Readonly<Record<string, string>> = {
  '/proc/sys/net/ipv4/icmp_ratelimit': '0',
  '/proc/sys/net/ipv4/icmp_msgs_per_sec': '100000',
  '/proc/sys/net/ipv4/icmp_msgs_burst': '100000',
  // Present once nf_conntrack is loaded; without it there is no state to outlive anything.
  '/proc/sys/net/netfilter/nf_conntrack_udp_timeout': '1',
  '/proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream': '1',
};

/** Sets the knobs in the calling process's network namespace; returns the restore. */
export function tuneForProbes(): () => void {
  const saved = Object.keys(KNOBS)
    .filter((k) => existsSync(k))
    .map((k) => [k, readFileSync(k, 'utf8').trim()] as const);
  for (const [k] of saved) writeFileSync(k, KNOBS[k]!);
  return () => {
    for (const [k, v] of saved) writeFileSync(k, v);
  };
}
