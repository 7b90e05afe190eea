/** The berth-ipam CNI plugin executable. */
import { processIo } from '../process-io.js';
import { ipamPlugin } from '../plugins/ipam-plugin.js';
import { runPlugin } from '../skel.js';

runPlugin(ipamPlugin, processIo()).then((code) => {
  process.exitCode = code;
});
