/**
 * The period a metrics query covers, and how it splits into rollup buckets.
 *
 * Rollups exist per minute, hour, day and the doubling grains between and above them (see
 * rollups/grains.ts), so a period is aligned to whole minutes and read as the coarsest whole
 * buckets in the middle and finer ones towards the edges: a 30-day query reads at most about 20
 * rows per MCP above the minute level (and up to 118 minute rows) instead of 43,200 minutes.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MetricsWindow, type GetPerformanceMetricsRequest } from "../../../gen/coordinator/v1/performance_metrics_pb.js";
import { invalidField } from "../read/query-error.js";
import { ROLLUP_GRAINS } from "../rollups/grains.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The longest explicit range (the retention default plus a day of slack). */
const MAX_RANGE_MS = 31 * DAY;

const WINDOWS: Record<number, number> = {
  [MetricsWindow.UNSPECIFIED]: DAY,
  [MetricsWindow.LAST_HOUR]: HOUR,
  [MetricsWindow.LAST_24_HOURS]: DAY,
  [MetricsWindow.LAST_7_DAYS]: 7 * DAY,
  [MetricsWindow.LAST_30_DAYS]: 30 * DAY,
};

/** One stretch of rollup rows: those of `grain` whose bucket starts in [from, to). */
export interface RollupPiece {
  /** The grain's name (grains.ts). */
  grain: string;
  from: Date;
  to: Date;
}

/** A period aligned to whole minutes, [start, end). */
export interface MetricsPeriod {
  start: Date;
  end: Date;
}

/**
 * The period a request asks for. A window ends with the current minute (included, as far as the
 * rollups have caught up); an explicit range is widened to whole minutes.
 *
 * @throws QueryError invalid_argument "window" or "time_range".
 */
export function periodOf(request: GetPerformanceMetricsRequest, now: Date): MetricsPeriod {
  const period = request.period;
  if (period.case === "timeRange") {
    const range = period.value;
    if (!range.startTime || !range.endTime) throw invalidField("time_range", "start_time and end_time are both required");
    const from = timestampDate(range.startTime).getTime();
    const to = timestampDate(range.endTime).getTime();
    if (to <= from) throw invalidField("time_range", "end_time must be after start_time");
    if (to - from > MAX_RANGE_MS) throw invalidField("time_range", "spans more than 31 days");
    return { start: new Date(floorTo(from, MINUTE)), end: new Date(ceilTo(to, MINUTE)) };
  }
  const window = period.case === "window" ? period.value : MetricsWindow.UNSPECIFIED;
  const length = WINDOWS[window];
  if (length === undefined) throw invalidField("window", `unknown window ${window}`);
  const end = floorTo(now.getTime(), MINUTE) + MINUTE;
  return { start: new Date(end - length), end: new Date(end) };
}

/** The rollup rows that add up to `period`: the coarsest in the middle, finer ones towards the edges. */
export function summaryPieces(period: MetricsPeriod): RollupPiece[] {
  return split(period.start.getTime(), period.end.getTime(), ROLLUP_GRAINS.length - 1);
}

/** The rollup rows for an hourly series over `period`: hours, and minutes at the edges. */
export function hourlyPieces(period: MetricsPeriod): RollupPiece[] {
  return split(period.start.getTime(), period.end.getTime(), 1);
}

/** The start of every hour that overlaps `period`, oldest first. */
export function hoursOf(period: MetricsPeriod): Date[] {
  const hours: Date[] = [];
  for (let at = floorTo(period.start.getTime(), HOUR); at < period.end.getTime(); at += HOUR) hours.push(new Date(at));
  return hours;
}

/**
 * [from, to) (whole minutes) as the whole buckets of ROLLUP_GRAINS[level] inside it, and the
 * parts before and after them split the same way at the finer levels. Buckets are aligned to the
 * Unix epoch, as the rollup job's date_bin() has them.
 */
function split(from: number, to: number, level: number): RollupPiece[] {
  if (from >= to) return [];
  const { name: grain, ms: length } = ROLLUP_GRAINS[level]!;
  const start = ceilTo(from, length);
  const end = floorTo(to, length);
  if (level === 0) return [{ grain, from: new Date(from), to: new Date(to) }];
  if (start >= end) return split(from, to, level - 1);
  return [...split(from, start, level - 1), { grain, from: new Date(start), to: new Date(end) }, ...split(end, to, level - 1)];
}

function floorTo(ms: number, unit: number): number {
  return Math.floor(ms / unit) * unit;
}

function ceilTo(ms: number, unit: number): number {
  return Math.ceil(ms / unit) * unit;
}
