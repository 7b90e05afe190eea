/**
 * The kernel rate-limits the ICMP errors it sends (6 in a burst per destination, then one a
 * second), and the policy's reject answers a denied connection with one. A lab probes many
 * pairs at once, so under the limits some denials would arrive as timeouts, or a burst of them
 * would stall the probes. These knobs are per network namespace: a lab lifts them only in a
 * namespace made for it, never in the machine's own.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const ICMP_LIMITS: Readonly<Record<string, string>> = {
  '/proc/sys/net/ipv4/icmp_ratelimit': '0',
  '/proc/sys/net/ipv4/icmp_msgs_per_sec': '100000',
  '/proc/sys/net/ipv4/icmp_msgs_burst': '100000',
};

/** Lifts the limits in the calling process's network namespace; returns the restore. */
export function liftIcmpLimits(): () => void {
  const saved = Object.keys(ICMP_LIMITS).map((k) => [k, readFileSync(k, 'utf8').trim()] as const);
  for (const [k, v] of Object.entries(ICMP_LIMITS)) writeFileSync(k, v);
  return () => {
    for (const [k, v] of saved) writeFileSync(k, v);
  };
}
