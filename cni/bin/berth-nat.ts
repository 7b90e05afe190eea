/** The berth-nat CNI plugin executable. */
import { processIo } from '../process-io.js';
import { natPlugin } from '../plugins/nat-plugin.js';
import { runPlugin } from '../skel.js';

runPlugin(natPlugin, processIo()).then((code) => {
  process.exitCode = code;
});
