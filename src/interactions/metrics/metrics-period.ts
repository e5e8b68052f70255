/**
 * The period a metrics query covers, and how it splits into rollup buckets.
 *
 * Rollups exist per minute, hour and day, so a period is aligned to whole minutes and read as
 * whole days in the middle, whole hours around them and minutes at the edges: a 30-day query reads
 * about 30 rows per MCP instead of 43,200.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MetricsWindow, type GetPerformanceMetricsRequest } from "../../../gen/coordinator/v1/performance_metrics_pb.js";
import { invalidField } from "../read/query-error.js";

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
  grain: "minute" | "hour" | "day";
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

/** The rollup rows that add up to `period`: days in the middle, hours around, minutes at the edges. */
export function summaryPieces(period: MetricsPeriod): RollupPiece[] {
  const { minutes, hours } = edges(period);
  if (!hours) return minutes;
  const dayStart = ceilTo(hours.from.getTime(), DAY);
  const dayEnd = floorTo(hours.to.getTime(), DAY);
  if (dayStart >= dayEnd) return [...minutes, hours];
  return [
    ...minutes,
    ...piece("hour", hours.from.getTime(), dayStart),
    ...piece("hour", dayEnd, hours.to.getTime()),
    ...piece("day", dayStart, dayEnd),
  ];
}

/** The rollup rows for an hourly series over `period`: hours, and minutes at the edges. */
export function hourlyPieces(period: MetricsPeriod): RollupPiece[] {
  const { minutes, hours } = edges(period);
  return hours ? [...minutes, hours] : minutes;
}

/** The start of every hour that overlaps `period`, oldest first. */
export function hoursOf(period: MetricsPeriod): Date[] {
  const hours: Date[] = [];
  for (let at = floorTo(period.start.getTime(), HOUR); at < period.end.getTime(); at += HOUR) hours.push(new Date(at));
  return hours;
}

/** The whole hours inside the period, and the minute pieces before and after them. */
function edges(period: MetricsPeriod): { minutes: RollupPiece[]; hours: RollupPiece | undefined } {
  const start = period.start.getTime();
  const end = period.end.getTime();
  const hourStart = ceilTo(start, HOUR);
  const hourEnd = floorTo(end, HOUR);
  if (hourStart >= hourEnd) return { minutes: piece("minute", start, end), hours: undefined };
  return {
    minutes: [...piece("minute", start, hourStart), ...piece("minute", hourEnd, end)],
    hours: { grain: "hour", from: new Date(hourStart), to: new Date(hourEnd) },
  };
}

function piece(grain: RollupPiece["grain"], from: number, to: number): RollupPiece[] {
  return from < to ? [{ grain, from: new Date(from), to: new Date(to) }] : [];
}

function floorTo(ms: number, unit: number): number {
  return Math.floor(ms / unit) * unit;
}

function ceilTo(ms: number, unit: number): number {
  return Math.ceil(ms / unit) * unit;
}
