/** How `berth lab run` prints a lab's steps and its verdict (the lab program sends them as JSON). */

export interface LabCheckView {
  readonly what: string;
  readonly ok: boolean;
  readonly reason: string;
}

export interface LabStepView {
  readonly note?: string;
  readonly command: string;
  readonly exitCode: number;
  readonly output: string;
  readonly checks: readonly LabCheckView[];
}

export interface LabReportView {
  readonly lab: string;
  readonly passed: boolean;
  readonly steps: readonly LabStepView[];
  readonly checks: { readonly passed: number; readonly failed: number };
  readonly durationMs: number;
  readonly error?: string;
}

/** At most this many lines of a command's output are shown. */
const MAX_OUTPUT_LINES = 24;

export function renderLabStep(step: LabStepView): string {
  const out: string[] = [''];
  if (step.note) out.push(`# ${step.note}`);
  out.push(`$ ${step.command}`);
  const lines = step.output ? step.output.split('\n') : [];
  for (const l of lines.slice(0, MAX_OUTPUT_LINES)) out.push(`  ${l}`);
  if (lines.length > MAX_OUTPUT_LINES) out.push(`  ... ${lines.length - MAX_OUTPUT_LINES} more lines`);
  for (const c of step.checks) out.push(`${c.ok ? '✔' : '✘'} ${c.what}: ${c.reason}`);
  return `${out.join('\n')}\n`;
}

export function renderLabSummary(report: LabReportView): string {
  const total = report.checks.passed + report.checks.failed;
  const secs = (report.durationMs / 1000).toFixed(1);
  const error = report.error ? `\n✘ the lab could not go on: ${report.error}` : '';
  const verdict = report.passed ? `✔ ${report.lab}: all ${total} checks passed in ${secs} s` : `✘ ${report.lab}: ${report.checks.failed} of ${total} checks failed (${secs} s)`;
  return `${error}\n${verdict}\n`;
}
