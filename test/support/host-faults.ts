/**
 * Fault injection through a driver's host ports (drivers/driver-module.ts `intercept`): every
 * call that changes something (add, set, delete, write, run, open, transact, ensure...) is a
 * step; the plan counts the steps of a run, or fails the n-th one with a KernelError. Objects
 * the ports hand out (a netlink socket, an nftables context) are wrapped the same way.
 */
import { KernelError } from '../../core/errors.js';
import type { HostIntercept } from '../../drivers/driver-module.js';

const STEP = /^(add|set|delete|remove|write|run|open|transact|ensure|create|move)/i;

export class FaultPlan {
  /** Steps seen so far. */
  steps = 0;
  readonly names: string[] = [];
  #failAt: number | undefined;

  /** `failAt`: the 1-based step that fails; undefined only counts. */
  constructor(failAt?: number) {
    this.#failAt = failAt;
  }

  get intercept(): HostIntercept {
    return <T extends object>(port: string, impl: T): T => this.#wrap(port, impl);
  }

  #wrap<T extends object>(where: string, target: T): T {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const plan = this;
    return new Proxy(target, {
      get(obj, prop) {
        const value = Reflect.get(obj, prop) as unknown;
        if (typeof value !== 'function' || typeof prop !== 'string') return value;
        return function (this: unknown, ...args: unknown[]) {
          if (STEP.test(prop)) {
            plan.steps++;
            plan.names.push(`${where}.${prop}`);
            if (plan.steps === plan.#failAt) throw new KernelError(`injected fault at step ${plan.steps}: ${where}.${prop}`, { operation: prop });
          }
          const out = (value as (...a: unknown[]) => unknown).apply(obj, args);
          // Ports hand out further ports (netlink, nftables, the forward passage): wrap those too.
          if (out && typeof out === 'object' && !Array.isArray(out) && !(out instanceof Promise) && hasMethods(out)) return plan.#wrap(`${where}.${prop}()`, out);
          return out;
        };
      },
    });
  }
}

function hasMethods(o: object): boolean {
  const proto = Object.getPrototypeOf(o) as object | null;
  const own = Object.values(o).some((v) => typeof v === 'function');
  return own || (proto !== null && proto !== Object.prototype && Object.getOwnPropertyNames(proto).some((k) => k !== 'constructor'));
}
