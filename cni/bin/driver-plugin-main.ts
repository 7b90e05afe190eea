/**
 * A driver's CNI plugin executable: scripts/build.mjs bundles one per catalog entry, with the
 * entry's facts and its driver's module built in, so the executable loads no other driver.
 */
import type { DriverFacts } from '../../drivers/catalog.js';
import type { DriverModule } from '../../drivers/driver-module.js';
import { driverPlugin } from '../plugins/driver-plugin.js';
import { processIo } from '../process-io.js';
import { runPlugin } from '../skel.js';

export function runDriverPlugin(facts: DriverFacts, module: DriverModule): void {
  runPlugin(
    driverPlugin(facts, () => Promise.resolve(module)),
    processIo(),
  ).then((code) => {
    process.exitCode = code;
  });
}
