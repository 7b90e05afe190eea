/**
 * hnscheck, the project's strict checker of HNS/HCN documents (test/tools/hnscheck: the field
 * names and Go types of hcsshim's structs, unknown fields refused at every level, policy
 * Settings by policy Type), built by scripts/setup.sh into .tools/hnscheck.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './netns.js';

export const HNSCHECK = join(ROOT, '.tools', 'hnscheck');

export interface HnscheckResult {
  readonly status: number | null;
  /** "ok", or one "PATH: problem" line per problem. */
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Checks a document as hcsshim's TYPE (`HostComputeEndpoint`, `[]ModifyEndpointSettingRequest`,
 * ...): `file` is a path, or `-` with the document in `input`. Throws, so the test fails, when
 * the checker is not built: a test of HNS documents never passes without it.
 */
export function hnscheck(type: string, file: string, input?: string): HnscheckResult {
  if (!existsSync(HNSCHECK)) {
    throw new Error(`the HNS/HCN checker ${HNSCHECK} is missing: run bash scripts/setup.sh, or bash test/tools/hnscheck/build.sh (Go from Debian's golang-go)`);
  }
  const r = spawnSync(HNSCHECK, [type, file], { input: input ?? '', encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
