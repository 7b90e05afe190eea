import test from 'ava';
import { leaseTimes, nextWake, phaseAt } from '../../../../daemon/dhcp/lease-timing.js';

const S = 1000;
const t = leaseTimes(0, 1000, 500, 875);

test('phases: bound before T1, renewing until T2, rebinding until expiry, then expired', (tt) => {
  tt.is(phaseAt(t, 0), 'bound');
  tt.is(phaseAt(t, 499 * S), 'bound');
  tt.is(phaseAt(t, 500 * S), 'renewing');
  tt.is(phaseAt(t, 875 * S), 'rebinding');
  tt.is(phaseAt(t, 1000 * S), 'expired');
});

test('next wake: T1 while bound; at once when a phase begins; after a failure half the time left, at least the minimum, never past the phase', (tt) => {
  const min = 60 * S;
  tt.is(nextWake(t, 10 * S, false, min), 500 * S);
  tt.is(nextWake(t, 500 * S, false, min), 500 * S, 'T1 reached: now');
  // Renewing: (875 - 500) / 2 = 187.5 s.
  tt.is(nextWake(t, 500 * S, true, min), 687.5 * S);
  // Close to T2: the minimum, cut at T2.
  tt.is(nextWake(t, 850 * S, true, min), 875 * S);
  tt.is(nextWake(t, 800 * S, true, min), 860 * S, 'the minimum retry');
  // Rebinding: towards expiry.
  tt.is(nextWake(t, 875 * S, true, min), 875 * S + 62.5 * S);
  tt.is(nextWake(t, 990 * S, true, min), 1000 * S);
  tt.is(nextWake(t, 1000 * S, true, min), 1000 * S, 'expired: now');
});

test('leaseTimes counts from the request and keeps T1 <= T2 <= lease', (tt) => {
  tt.deepEqual(leaseTimes(5 * S, 100), { obtainedAt: 5 * S, renewAt: 55 * S, rebindAt: 92.5 * S, expiresAt: 105 * S });
  tt.deepEqual(leaseTimes(0, 100, 90, 50), { obtainedAt: 0, renewAt: 50 * S, rebindAt: 50 * S, expiresAt: 100 * S }, 'T1 after T2: T1 from the lease, then capped');
  tt.deepEqual(leaseTimes(0, 100, 10, 200), { obtainedAt: 0, renewAt: 10 * S, rebindAt: 87.5 * S, expiresAt: 100 * S }, 'T2 past the lease: 7/8');
});
