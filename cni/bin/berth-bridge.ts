/** The berth-bridge CNI plugin executable. */
import { processIo } from '../process-io.js';
import { bridgePlugin } from '../plugins/bridge-plugin.js';
import { runPlugin } from '../skel.js';

runPlugin(bridgePlugin, processIo()).then((code) => {
  process.exitCode = code;
});
