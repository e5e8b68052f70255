/**
 * SQL of GetPerformanceMetrics and RankMcps: sums over the rollups (migration 0005), percentiles
 * merged from their histograms, all computed in Postgres.
 */
import type { Pool, PoolClient } from "pg";
import { ALL_MCPS } from "../rollups/rollup-queries.js";
import type { RollupPiece } from "./metrics-period.js";

/** Figures of one MCP, or of all (mcp_id null). Percentiles are null without samples. */
export interface SummaryRow {
  mcp_id: string | null;
  finished: string;
  succeeded: string;
  samples: string;
  sum_ms: number;
  min_ms: number | null;
  max_ms: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
}

/** Finished interactions in one hour. */
export interface HourRow {
  hour: Date;
  finished: string;
  succeeded: string;
}

/** Failures with one error code. */
export interface ErrorCodeRow {
  error_code: string;
  failed: string;
  last_at: Date;
}

type Db = Pool | PoolClient;

/**
 * The rollup rows of the pieces, of `mcpId` (ALL_MCPS: the rows for all MCPs together; '': each
 * MCP's own rows) and only `mcpIds` when given, as a CTE named "sel"; its parameters are appended
 * to `params`.
 */
function selected(table: string, pieces: readonly RollupPiece[], mcpId: string, mcpIds: readonly string[] | null, params: unknown[]): string {
  // Why one range per piece, ORed, rather than a join with the pieces passed as arrays: the
  // planner then sees each (grain, bucket_start) range and reads just those index ranges. Joined
  // to unnest()ed bounds it guesses a third of the table per bound and scans all of it (a million
  // minute rows at 5 million events: most of a second per statement).
  const param = (value: unknown) => `$${params.push(value)}`;
  const ranges = pieces.map((p) => `(r.grain = ${param(p.grain)} AND r.bucket_start >= ${param(p.from)} AND r.bucket_start < ${param(p.to)})`);
  const filters = [`(${ranges.join(" OR ") || "false"})`];
  filters.push(mcpId ? `r.mcp_id = ${param(mcpId)}` : `r.mcp_id <> '${ALL_MCPS}'`);
  if (mcpIds) filters.push(`r.mcp_id = ANY (${param(mcpIds)}::text[])`);
  return `sel AS (SELECT r.* FROM ${table} r WHERE ${filters.join(" AND ")})`;
}

/**
 * Per-MCP figures plus one row for all of them together (mcp_id null), over the pieces.
 *
 * @param mcpIds - only these MCPs (null: any).
 */
export async function summaries(db: Db, pieces: readonly RollupPiece[], mcpId: string, mcpIds: readonly string[] | null = null): Promise<SummaryRow[]> {
  // Why nearest rank over merged buckets: the p-th percentile is the bucket holding the
  // ceil(p * samples)-th smallest time, reported as the bucket's middle value clamped to the
  // exact min and max (within 2% of the exact percentile, see interaction_ms_bucket).
  const params: unknown[] = [];
  const { rows } = await db.query<SummaryRow>(
    `WITH ${selected("interaction_rollups", pieces, mcpId, mcpIds, params)},
    totals AS (
      SELECT mcp_id, sum(finished) AS finished, sum(succeeded) AS succeeded, sum(samples) AS samples,
        sum(sum_ms) AS sum_ms, min(min_ms) AS min_ms, max(max_ms) AS max_ms
      FROM sel GROUP BY GROUPING SETS ((mcp_id), ())
    ),
    -- Why per MCP first, then all MCPs from those sums: the unnested elements (tens of
    -- thousands over 30 days) are grouped once, not once per grouping set. Why float8: sum() of
    -- bigint is numeric, and the running sums below over numeric took longer than the grouping;
    -- counts stay exact in float8 up to 2^53.
    per_mcp AS (
      SELECT s.mcp_id, u.bucket, sum(u.n::float8) AS n
      FROM sel s, unnest(s.hist_buckets, s.hist_counts) AS u(bucket, n)
      GROUP BY s.mcp_id, u.bucket
    ),
    hist AS (
      SELECT mcp_id, bucket, n FROM per_mcp
      UNION ALL
      SELECT NULL, bucket, sum(n) FROM per_mcp GROUP BY bucket
    ),
    cumulative AS (
      SELECT mcp_id, bucket, sum(n) OVER (PARTITION BY mcp_id ORDER BY bucket) AS upto, sum(n) OVER (PARTITION BY mcp_id) AS total
      FROM hist
    ),
    ranks AS (
      SELECT mcp_id,
        min(bucket) FILTER (WHERE upto >= ceil(0.50 * total)) AS p50,
        min(bucket) FILTER (WHERE upto >= ceil(0.95 * total)) AS p95,
        min(bucket) FILTER (WHERE upto >= ceil(0.99 * total)) AS p99
      FROM cumulative GROUP BY mcp_id
    )
    SELECT t.mcp_id, t.finished::text, t.succeeded::text, t.samples::text, COALESCE(t.sum_ms, 0) AS sum_ms, t.min_ms, t.max_ms,
      LEAST(GREATEST(interaction_bucket_ms(r.p50), t.min_ms), t.max_ms) AS p50_ms,
      LEAST(GREATEST(interaction_bucket_ms(r.p95), t.min_ms), t.max_ms) AS p95_ms,
      LEAST(GREATEST(interaction_bucket_ms(r.p99), t.min_ms), t.max_ms) AS p99_ms
    FROM totals t LEFT JOIN ranks r ON r.mcp_id IS NOT DISTINCT FROM t.mcp_id`,
    params,
  );
  return rows;
}

/** Finished interactions of one MCP ('': all) per hour over the pieces (hours with none are absent). */
export async function hourlyCounts(db: Db, pieces: readonly RollupPiece[], mcpId: string): Promise<HourRow[]> {
  const params: unknown[] = [];
  const { rows } = await db.query<HourRow>(
    `WITH ${selected("interaction_rollups", pieces, mcpId || ALL_MCPS, null, params)}
    SELECT date_trunc('hour', bucket_start, 'UTC') AS hour, sum(finished)::text AS finished, sum(succeeded)::text AS succeeded
    FROM sel GROUP BY 1 ORDER BY 1`,
    params,
  );
  return rows;
}

/** The `limit` most frequent error codes of one MCP ('': all) over the pieces, most frequent first. */
export async function topErrorCodes(db: Db, pieces: readonly RollupPiece[], mcpId: string, limit: number): Promise<ErrorCodeRow[]> {
  const params: unknown[] = [];
  const sel = selected("interaction_error_rollups", pieces, mcpId || ALL_MCPS, null, params);
  const { rows } = await db.query<ErrorCodeRow>(
    `WITH ${sel}
    SELECT error_code, sum(failed)::text AS failed, max(last_at) AS last_at
    FROM sel GROUP BY error_code ORDER BY sum(failed) DESC, error_code COLLATE "C" LIMIT $${params.push(limit)}`,
    params,
  );
  return rows;
}
