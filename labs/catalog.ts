/** Every lab `berth lab ls` lists, in the order a course takes them. */
import type { LabDefinition } from './framework/lab.js';
import { cnmLab } from './scenarios/cnm.js';
import { overlayLab } from './scenarios/overlay.js';
import { policyLab } from './scenarios/policy.js';
import { portMappingLab } from './scenarios/port-mapping.js';
import { singleHostLab } from './scenarios/single-host.js';
import { windowsDriversLab } from './scenarios/windows-drivers.js';
import { windowsNatLab } from './scenarios/windows-nat.js';

export const LABS: readonly LabDefinition[] = [cnmLab, singleHostLab, portMappingLab, windowsNatLab, windowsDriversLab, overlayLab, policyLab];

export function findLab(name: string): LabDefinition | undefined {
  return LABS.find((l) => l.name === name);
}
