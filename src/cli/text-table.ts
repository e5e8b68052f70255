/**
 * Plain-text tables and times for the commands' human output (`--json` is for scripts).
 */
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

/** A plain table with a header row; empty cells show "-", white space inside a cell is folded. */
export function table(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => row.map((cell) => (cell === "" ? "-" : cell.replace(/\s+/g, " "))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const format = (values: readonly string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [format(columns), ...cells.map(format)].join("\n") + "\n";
}

/** A timestamp in UTC to the second ("2026-11-22T10:00:00Z"), or "-" when unset. */
export function time(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toISOString().replace(/\.\d{3}Z$/, "Z") : "-";
}
