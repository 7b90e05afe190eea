/**
 * berthd's watch over other owners' forward drops: the drivers open a passage when they make
 * a device, but an owner may rewrite its chains later (Docker restarting, ufw reloading), so
 * berthd re-checks: at its start, whenever the Docker engine (re)appears on its API socket or
 * reports a network change, every `intervalMs`, and before it reports its status or its health.
 * A re-check that finds everything in place writes nothing.
 */
import { asBerthError } from '../../core/errors.js';
import { placeName } from '../../dataplane/linux/firewall/forward-blockers.js';
import type { ForwardPassage, Passage, PassageReport } from '../../dataplane/linux/ports.js';
import type { Log } from '../log.js';
import { watchDockerEngine, type EngineWatch } from './docker-engine-watch.js';

export interface PassageKeeperOptions {
  readonly passage: ForwardPassage;
  readonly log: Log;
  /** 0 turns the periodic re-check off. */
  readonly intervalMs: number;
  /** Docker's API socket; watched while it exists. */
  readonly dockerSocket?: string;
  /**
   * How old a re-check may be and still answer a health probe: a prober asking every second
   * must not run a re-check (on legacy iptables, the owner's tool) every second. @default 2000
   */
  readonly healthFreshMs?: number;
}

/** The last re-check as status and health see it. */
export interface KeeperReport extends PassageReport {
  /** Why the last re-check failed; absent when it succeeded. Then no passage counts as present. */
  readonly error?: string;
}

export class PassageKeeper {
  readonly #o: PassageKeeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #engine: EngineWatch | undefined;
  #last: PassageReport = { devices: [], passages: [] };
  #lastShown = '';
  #error: string | undefined;
  /** When the last re-check ran (ms since the epoch; 0: never). */
  #checkedAt = 0;

  constructor(o: PassageKeeperOptions) {
    this.#o = o;
  }

  /** The first re-check (synchronous: before any socket opens), then the watches. */
  start(): KeeperReport {
    const report = this.check('start');
    if (this.#o.intervalMs > 0) {
      this.#timer = setInterval(() => this.check('periodic'), this.#o.intervalMs);
      this.#timer.unref();
    }
    if (this.#o.dockerSocket) {
      this.#engine = watchDockerEngine(this.#o.dockerSocket, {
        up: () => this.check('docker engine started'),
        networkEvent: () => this.check('docker network event'),
      });
    }
    return report;
  }

  /**
   * Re-checks now. A failure is logged (once per distinct message) and reported: the passages
   * last seen are then not known to be in place. A rule put back is logged as a warning: some
   * other owner took it away, and berth's traffic was dropped meanwhile.
   */
  check(why: string): KeeperReport {
    this.#checkedAt = Date.now();
    let report: PassageReport;
    try {
      report = this.#o.passage.refresh();
    } catch (err) {
      const message = asBerthError(err).message;
      if (message !== this.#error) this.#o.log.warn('firewall passage: re-check failed', { why, error: message });
      this.#error = message;
      return this.last();
    }
    if (this.#error !== undefined) this.#o.log.info('firewall passage: re-check works again', { why });
    this.#error = undefined;
    this.#last = report;
    for (const p of report.passages) {
      if (p.added) this.#o.log.warn("firewall passage: berth's rule was missing from another owner's chain and was put back", { why, ...describe(p) });
    }
    const shown = JSON.stringify(report.passages.map((p) => [p.owner, p.place]));
    if (shown !== this.#lastShown) {
      this.#lastShown = shown;
      this.#o.log.info('firewall passage', { why, devices: report.devices, passages: report.passages.map(describe) });
    }
    return report;
  }

  last(): KeeperReport {
    if (this.#error === undefined) return this.#last;
    return { devices: this.#last.devices, passages: this.#last.passages.map((p) => ({ ...p, present: false, added: false })), error: this.#error };
  }

  /**
   * For `/healthz`: re-checks, then undefined when every needed passage is in place, or one
   * line naming what is not (the re-check could not restore it).
   */
  problem(): string | undefined {
    // A failed re-check is not reused: the probe tries again, and sees a recovery at once.
    const fresh = this.#error === undefined && Date.now() - this.#checkedAt < (this.#o.healthFreshMs ?? 2000);
    const r = fresh ? this.last() : this.check('health check');
    if (r.error === undefined) return undefined;
    const chains = r.passages.map((p) => `${p.owner}'s ${placeName(p.place)}`);
    return `firewall passage re-check failed${chains.length ? ` (berth's accept in ${chains.join(', ')} may be missing)` : ''}: ${r.error}`;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#engine?.stop();
    this.#engine = undefined;
  }
}

function describe(p: Passage): Record<string, unknown> {
  return { owner: p.owner, chain: placeName(p.place), backend: p.place.backend, reason: p.reason };
}
