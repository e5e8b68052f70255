/**
 * How `interactions metrics` prints GetPerformanceMetrics for people: the summary, the per-MCP
 * table, the top error codes and hourly throughput as a text bar chart that fits 80 columns.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { GetPerformanceMetricsResponse, PerformanceSummary, ThroughputPoint } from "../../gen/coordinator/v1/performance_metrics_pb.js";
import { humanDuration, humanMs } from "./interaction-format.js";
import { table, time } from "./text-table.js";

/** At most this many chart lines: a 30-day period (720 hours) is shown a day a line. */
const CHART_LINES = 48;
/** Width of the longest bar. */
const BAR_WIDTH = 40;
/** Hours a chart line may cover; each divides a day, so lines start on the same hours every day. */
const HOURS_PER_LINE = [1, 2, 3, 4, 6, 8, 12, 24];

/** The whole `interactions metrics` view. */
export function metricsText(metrics: GetPerformanceMetricsResponse): string {
  const start = metrics.startTime ? timestampMs(metrics.startTime) : 0;
  const end = metrics.endTime ? timestampMs(metrics.endTime) : 0;
  let text = `period: ${time(metrics.startTime)} to ${time(metrics.endTime)} (${humanMs(end - start)})\n`;
  text += summaryText(metrics.summary);
  if (metrics.perMcp.length) {
    text += "\nper MCP:\n";
    text += table(
      ["mcp", "count", "success", "errors", "avg", "p50", "p95", "p99", "max"],
      metrics.perMcp.map(({ mcpId, summary: s }) => {
        const t = s?.processingTime;
        return [mcpId, String(s?.count ?? 0), percent(s?.successRate), percent(s?.errorRate), ...[t?.avg, t?.p50, t?.p95, t?.p99, t?.max].map(humanDuration)];
      }),
    );
  }
  if (metrics.topErrorCodes.length) {
    text += "\ntop error codes:\n";
    text += table(
      ["error_code", "count", "last_seen"],
      metrics.topErrorCodes.map((c) => [c.errorCode || "(no code)", String(c.count), time(c.lastSeenAt)]),
    );
  }
  text += `\n${throughputChart(metrics.throughput)}`;
  return text;
}

/** Count, success and error rates and the processing-time statistics, one line each. */
export function summaryText(summary: PerformanceSummary | undefined): string {
  const count = summary?.count ?? 0n;
  let text = `finished: ${count} (${summary?.successCount ?? 0n} succeeded, ${summary?.failureCount ?? 0n} failed)`;
  if (count > 0n) text += `; success rate ${percent(summary?.successRate)}, error rate ${percent(summary?.errorRate)}`;
  text += "\n";
  const t = summary?.processingTime;
  if (t?.samples) {
    const figures = (["avg", "min", "p50", "p95", "p99", "max"] as const).map((name) => `${name} ${humanDuration(t[name])}`);
    text += `processing time (${t.samples} with a time): ${figures.join("  ")}\n`;
  }
  return text;
}

/**
 * Finished interactions over time, oldest first: one line per hour, or per 2..24 hours when the
 * period has more than {@link CHART_LINES} hours. `#` are successes and `x` failures, scaled to
 * the busiest line.
 */
export function throughputChart(points: readonly ThroughputPoint[]): string {
  if (points.length === 0) return "throughput: no hours in the period\n";
  const hours = HOURS_PER_LINE.find((h) => Math.ceil(points.length / h) <= CHART_LINES) ?? 24;
  const lines = group(points, hours);
  const busiest = Math.max(...lines.map((l) => l.count));
  const header = `throughput (${hours === 1 ? "per hour" : `per ${hours} hours`}, UTC; # succeeded, x failed):`;
  if (busiest === 0) return `${header} none finished\n`;
  const countWidth = Math.max(5, String(busiest).length);
  const rows = lines.map((l) => {
    const label = new Date(l.startMs).toISOString().slice(0, 16).replace("T", " ");
    return `${label}  ${String(l.count).padStart(countWidth)}  ${String(l.failed).padStart(6)}  ${bar(l.count - l.failed, l.failed, busiest)}`.trimEnd();
  });
  return `${header}\n${"start".padEnd(16)}  ${"count".padStart(countWidth)}  failed\n${rows.join("\n")}\n`;
}

interface ChartLine {
  /** Start of its first hour, in ms since the epoch. */
  startMs: number;
  count: number;
  failed: number;
}

/** Sums consecutive hours `hours` at a time; a line starts at its first hour. */
function group(points: readonly ThroughputPoint[], hours: number): ChartLine[] {
  const lines: ChartLine[] = [];
  points.forEach((p, i) => {
    if (i % hours === 0) lines.push({ startMs: p.bucketStart ? timestampMs(p.bucketStart) : 0, count: 0, failed: 0 });
    const line = lines[lines.length - 1]!;
    line.count += Number(p.count);
    line.failed += Number(p.failureCount);
  });
  return lines;
}

/** A bar of `#` (successes) then `x` (failures); any non-zero part shows at least one mark. */
function bar(succeeded: number, failed: number, busiest: number): string {
  const width = (n: number) => (n === 0 ? 0 : Math.max(1, Math.round((n / busiest) * BAR_WIDTH)));
  return "#".repeat(width(succeeded)) + "x".repeat(width(failed));
}

function percent(rate: number | undefined): string {
  return `${((rate ?? 0) * 100).toFixed(1)}%`;
}
