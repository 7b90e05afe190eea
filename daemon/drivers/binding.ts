/**
 * The drivers berthd serves: each catalog entry (drivers/catalog.ts) with its driver made for
 * this host, its Docker plugin name and its Docker option parser. The registry keys them by
 * driver name and by plugin name and refuses duplicates.
 */
import { InvalidConfigError } from '../../core/errors.js';
import type { DriverName } from '../../core/model.js';
import type { Driver } from '../../drivers/driver.js';
import type { OptionContext } from '../../drivers/driver-module.js';

export interface ServedDriver<Options = unknown> {
  /** The berth driver (`bridge`). */
  readonly driver: DriverName;
  /** The Docker plugin name, which is also the socket's name (`berth-bridge`). */
  readonly pluginName: string;
  readonly impl: Driver<Options>;
  /** Option keys accepted, for help and error messages. */
  readonly optionKeys: readonly string[];
  /**
   * Validates user options into the driver's options; InvalidConfigError naming the key for
   * an unknown key or a bad value. Pure: runs again on every load of a stored network.
   */
  parseOptions(raw: Readonly<Record<string, string>>, ctx: OptionContext): Options;
  /** Whether the driver leases its endpoints' addresses itself for these options (DHCP). */
  givesAddresses(options: Options): boolean;
}

/** The drivers berthd serves, by driver name and by Docker plugin name. */
export class DriverRegistry {
  private readonly byDriver = new Map<string, ServedDriver>();
  private readonly byPlugin = new Map<string, ServedDriver>();

  /** Adds a driver; throws when its driver or plugin name is taken. */
  register<O>(served: ServedDriver<O>): void {
    if (this.byDriver.has(served.driver)) throw new InvalidConfigError(`Driver ${served.driver} is registered twice`);
    if (this.byPlugin.has(served.pluginName)) throw new InvalidConfigError(`Docker plugin name ${served.pluginName} is registered twice`);
    this.byDriver.set(served.driver, served as ServedDriver);
    this.byPlugin.set(served.pluginName, served as ServedDriver);
  }

  /** The driver for a berth driver name (`bridge`) or plugin name (`berth-bridge`). */
  find(name: string): ServedDriver | undefined {
    return this.byDriver.get(name) ?? this.byPlugin.get(name);
  }

  /** Like `find`, but an unknown name is an InvalidConfigError listing the known ones. */
  get(name: string): ServedDriver {
    const b = this.find(name);
    if (b) return b;
    const known = [...this.byDriver.keys()].join(', ');
    throw new InvalidConfigError(`Unknown driver ${JSON.stringify(name)}: berthd serves ${known || 'no drivers'}`, { field: 'driver', value: name });
  }

  /** Every driver, in registration order. */
  all(): ServedDriver[] {
    return [...this.byDriver.values()];
  }
}
