/**
 * Phase timing for short-lived processes: with BERTH_TRACE=1 a plugin prints, on exit, how
 * long each phase took since the process started (stderr, one line). A CNI plugin's budget
 * is a few milliseconds beyond Node's own start-up; this is how to see where it goes.
 * Disabled, a mark costs one property read.
 */
const enabled = process.env.BERTH_TRACE === '1';
const marks: [string, number][] = [];

export function mark(label: string): void {
  if (!enabled) return;
  if (marks.length === 0) process.once('exit', report);
  marks.push([label, process.uptime() * 1000]);
}

function report(): void {
  marks.push(['exit', process.uptime() * 1000]);
  let prev = 0;
  const parts = marks.map(([label, at]) => {
    const s = `${label}=${(at - prev).toFixed(1)}`;
    prev = at;
    return s;
  });
  process.stderr.write(`berth trace (ms since previous mark): ${parts.join(' ')}\n`);
}
