/**
 * When a lease is renewed, rebound and lost (RFC 2131 §4.4.5), as pure functions of absolute
 * times in milliseconds: the client's timers are set from these, so a restarted berthd picks
 * up exactly where the records say, and the decisions are unit-tested with a fake clock.
 */

/** Lease time 0xffffffff: the lease never expires. */
export const INFINITE_LEASE = 0xffffffff;

export interface LeaseTimes {
  readonly obtainedAt: number;
  /** T1: start renewing (unicast REQUEST to the server that granted the lease). */
  readonly renewAt: number;
  /** T2: start rebinding (broadcast REQUEST to any server). */
  readonly rebindAt: number;
  readonly expiresAt: number;
}

export type LeasePhase = 'bound' | 'renewing' | 'rebinding' | 'expired';

/**
 * The times of a lease granted by an ACK to a REQUEST sent at `sentAt` (the RFC counts from
 * the request, so a slow reply never stretches the lease). T1 defaults to half the lease, T2
 * to 7/8; server values out of order (T1 > T2, T2 > lease) fall back to the defaults.
 */
export function leaseTimes(sentAt: number, leaseSeconds: number, t1Seconds?: number, t2Seconds?: number): LeaseTimes {
  const lease = leaseSeconds;
  let t2 = t2Seconds !== undefined && t2Seconds <= lease ? t2Seconds : lease * 0.875;
  let t1 = t1Seconds !== undefined && t1Seconds <= t2 ? t1Seconds : lease * 0.5;
  if (t1 > t2) t1 = t2;
  if (lease === INFINITE_LEASE) t2 = t1 = lease;
  return { obtainedAt: sentAt, renewAt: sentAt + t1 * 1000, rebindAt: sentAt + t2 * 1000, expiresAt: sentAt + lease * 1000 };
}

export function phaseAt(t: LeaseTimes, now: number): LeasePhase {
  if (now >= t.expiresAt) return 'expired';
  if (now >= t.rebindAt) return 'rebinding';
  if (now >= t.renewAt) return 'renewing';
  return 'bound';
}

/**
 * When the client next acts on the lease: at T1 while bound; right away when a phase has
 * begun and no attempt was made in it yet; after a failed attempt, half the time left until
 * the phase ends (T2 while renewing, expiry while rebinding), but at least `minRetryMs`
 * apart (RFC 2131 says 60 s) and never past the phase's end, where the next phase begins.
 */
export function nextWake(t: LeaseTimes, now: number, failedAttempt: boolean, minRetryMs: number): number {
  const phase = phaseAt(t, now);
  if (phase === 'bound') return t.renewAt;
  if (phase === 'expired') return now;
  if (!failedAttempt) return now;
  const end = phase === 'renewing' ? t.rebindAt : t.expiresAt;
  return Math.min(end, now + Math.max(minRetryMs, (end - now) / 2));
}
