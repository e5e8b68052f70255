/**
 * The rollup grains (migrations 0005 and 0007), finest first: each one's buckets are whole
 * buckets of the one before, aligned to the Unix epoch (UTC).
 *
 * Why the doubling levels between hour and day and above day: a period is read as the coarsest
 * whole buckets inside it and finer ones at its edges (metrics-period.ts). With a factor of 2
 * between levels an edge needs at most one bucket per level, so a 30-day period reads about 10
 * rows per MCP above the minute level instead of about 50 hours and days; the histogram rows
 * merged per query, the cost of an all-MCP query, halve.
 */

/** One grain: its name in the tables' grain column and its bucket length. */
export interface RollupGrain {
  name: string;
  /** The bucket length as a PostgreSQL interval literal. */
  interval: string;
  ms: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Every grain, finest first. The first three names predate the others (migration 0005). */
export const ROLLUP_GRAINS: readonly RollupGrain[] = [
  { name: "minute", interval: "1 minute", ms: MINUTE_MS },
  { name: "hour", interval: "1 hour", ms: HOUR_MS },
  { name: "2 hours", interval: "2 hours", ms: 2 * HOUR_MS },
  { name: "4 hours", interval: "4 hours", ms: 4 * HOUR_MS },
  { name: "8 hours", interval: "8 hours", ms: 8 * HOUR_MS },
  { name: "day", interval: "1 day", ms: DAY_MS },
  { name: "2 days", interval: "2 days", ms: 2 * DAY_MS },
  { name: "4 days", interval: "4 days", ms: 4 * DAY_MS },
  { name: "8 days", interval: "8 days", ms: 8 * DAY_MS },
  { name: "16 days", interval: "16 days", ms: 16 * DAY_MS },
];

/** The minute grain (the one computed from the summaries). */
export const MINUTE_GRAIN = ROLLUP_GRAINS[0]!;
