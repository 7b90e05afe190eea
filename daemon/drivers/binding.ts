/**
 * How berthd serves one berth driver: the driver itself, the Docker plugin name it answers
 * to, and the translation of user options (`docker network create -o k=v`, `berth network
 * create -o k=v`) into the driver's validated options. One binding per driver; the registry
 * keys them by driver name and by plugin name and refuses duplicates, so a new driver
 * (`berth-nat`) plugs in by registering its binding in `default-bindings.ts` and nothing else.
 */
import { InvalidConfigError } from '../../core/errors.js';
import type { DriverName } from '../../core/model.js';
import type { Driver, EndpointRef, NetworkSpec } from '../../drivers/driver.js';

/** What a network is, as far as option parsing needs to know. */
export interface OptionContext {
  /** The network's name (for defaults such as the bridge name). */
  readonly networkName: string;
  /** Docker `--internal`: the driver must not give outside connectivity. */
  readonly internal: boolean;
  /** Whether the network has a gateway address (Docker IPAM gave one, or the API set one). */
  readonly hasGateway: boolean;
}

/** What reconcile found out about one endpoint of a live container. */
export type RestoreOutcome = 'ok' | 'reattached' | 'lost';

export interface DriverBinding<Options = unknown> {
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
  /**
   * Puts a live endpoint back in working order after a berthd restart without disturbing
   * it; absent when the driver has nothing to restore.
   */
  restoreEndpoint?(net: NetworkSpec<Options>, ep: EndpointRef): Promise<RestoreOutcome>;
}

/** The drivers berthd serves, by driver name and by Docker plugin name. */
export class DriverRegistry {
  private readonly byDriver = new Map<string, DriverBinding>();
  private readonly byPlugin = new Map<string, DriverBinding>();

  /** Adds a binding; throws when its driver or plugin name is taken. */
  register<O>(binding: DriverBinding<O>): void {
    if (this.byDriver.has(binding.driver)) throw new InvalidConfigError(`Driver ${binding.driver} is registered twice`);
    if (this.byPlugin.has(binding.pluginName)) throw new InvalidConfigError(`Docker plugin name ${binding.pluginName} is registered twice`);
    this.byDriver.set(binding.driver, binding as DriverBinding);
    this.byPlugin.set(binding.pluginName, binding as DriverBinding);
  }

  /** The binding for a berth driver name (`bridge`) or plugin name (`berth-bridge`). */
  find(name: string): DriverBinding | undefined {
    return this.byDriver.get(name) ?? this.byPlugin.get(name);
  }

  /** Like `find`, but an unknown name is an InvalidConfigError listing the known ones. */
  get(name: string): DriverBinding {
    const b = this.find(name);
    if (b) return b;
    const known = [...this.byDriver.keys()].join(', ');
    throw new InvalidConfigError(`Unknown driver ${JSON.stringify(name)}: berthd serves ${known || 'no drivers'}`, { field: 'driver', value: name });
  }

  /** Every binding, in registration order. */
  all(): DriverBinding[] {
    return [...this.byDriver.values()];
  }
}
