/** Every lab `berth lab ls` lists, in the order a course takes them. */
import type { LabDefinition } from './framework/lab.js';
import { cnmLab } from './scenarios/cnm.js';

export const LABS: readonly LabDefinition[] = [cnmLab];

export function findLab(name: string): LabDefinition | undefined {
  return LABS.find((l) => l.name === name);
}
