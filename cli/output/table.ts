/**
 * Plain-text tables the way `docker network ls` prints them: an upper-case header, columns
 * padded to their widest cell and three spaces apart, no trailing spaces.
 */

/** Renders rows under `headers`; every row has one cell per header. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}
