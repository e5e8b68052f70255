/**
 * Plain-text tables and number formatting for the benchmark's output.
 */

/** Prints rows as a table with a header and right-aligned numeric columns. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => String(cell)))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  const numeric = header.map((_, column) => rows.every((row) => typeof row[column] === "number" || /^[\d.,%x -]*$|^n\/a$/.test(String(row[column]))));
  const line = (row: string[]) =>
    row
      .map((cell, column) => (numeric[column] && column > 0 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

/** 12,345 */
export function int(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "n/a";
}

/** Milliseconds with 2 decimals (3 below 1 ms). */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value < 1 ? value.toFixed(3) : value < 100 ? value.toFixed(2) : value.toFixed(0);
}

/** 87% */
export function percent(value: number): string {
  return Number.isFinite(value) ? `${Math.round(value * 100)}%` : "n/a";
}

/** 12.3 MiB */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Rounds for the JSON line. */
export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Number.isFinite(value) ? Math.round(value * factor) / factor : NaN;
}
