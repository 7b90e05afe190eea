/** Where a command writes: the process's stdout and stderr, or a test's buffers. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const PROCESS_OUTPUT: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
