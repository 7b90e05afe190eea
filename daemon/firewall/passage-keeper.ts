/**
 * berthd's watch over other owners' forward drops: the drivers open a passage when they make
 * a device, but an owner may rewrite its chains later (Docker restarting, ufw reloading), so
 * berthd re-checks: at its start, whenever the Docker engine (re)appears on its API socket or
 * reports a network change, every `intervalMs`, and before it reports its status. A re-check
 * that finds everything in place writes nothing.
 */
import { asBerthError } from '../../core/errors.js';
import type { ForwardPassage, PassageReport } from '../../dataplane/linux/ports.js';
import type { Log } from '../log.js';
import { watchDockerEngine, type EngineWatch } from './docker-engine-watch.js';

export interface PassageKeeperOptions {
  readonly passage: ForwardPassage;
  readonly log: Log;
  /** 0 turns the periodic re-check off. */
  readonly intervalMs: number;
  /** Docker's API socket; watched while it exists. */
  readonly dockerSocket?: string;
}

export class PassageKeeper {
  readonly #o: PassageKeeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #engine: EngineWatch | undefined;
  #last: PassageReport = { devices: [], passages: [] };
  #lastShown = '';
  #lastError = '';

  constructor(o: PassageKeeperOptions) {
    this.#o = o;
  }

  /** The first re-check (synchronous: before any socket opens), then the watches. */
  start(): PassageReport {
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

  /** Re-checks now; a failure is logged (once per distinct message) and the last report kept. */
  check(why: string): PassageReport {
    try {
      this.#last = this.#o.passage.refresh();
      this.#lastError = '';
    } catch (err) {
      const message = asBerthError(err).message;
      if (message !== this.#lastError) this.#o.log.warn('firewall passage: re-check failed', { why, error: message });
      this.#lastError = message;
      return this.#last;
    }
    const shown = JSON.stringify(this.#last.passages.map((p) => [p.owner, p.place, p.present]));
    if (shown !== this.#lastShown) {
      this.#lastShown = shown;
      this.#o.log.info('firewall passage', {
        why,
        devices: this.#last.devices,
        passages: this.#last.passages.map((p) => ({ owner: p.owner, chain: `${p.place.family} ${p.place.table} ${p.place.chain}`, backend: p.place.backend, present: p.present, reason: p.reason })),
      });
    }
    return this.#last;
  }

  last(): PassageReport {
    return this.#last;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#engine?.stop();
    this.#engine = undefined;
  }
}
