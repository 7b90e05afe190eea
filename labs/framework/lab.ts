/** A lab: its name, its purpose in a line, and what it does in the namespace made for it. */
import type { LabContext } from './context.js';
import type { TopoPort } from './topology.js';

export interface LabSession {
  /** The published ports to draw, read live (berthd's NAT mappings). */
  readonly ports?: () => Promise<TopoPort[]>;
  /**
   * The lab's own picture, for a lab whose point is not a topology (the policy lab's
   * reachability heatmap, measured): `--svg` writes it instead of the topology drawing.
   */
  readonly picture?: () => Promise<string>;
}

export interface LabDefinition {
  readonly name: string;
  readonly purpose: string;
  /** Builds the lab and runs its steps; set-up failures throw, failed checks are recorded. */
  run(ctx: LabContext): Promise<LabSession>;
}
