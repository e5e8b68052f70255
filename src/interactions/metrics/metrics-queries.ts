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
 * MCP's own rows) and only `mcpIds` when given, as a CTE named `name`; its parameters are
 * appended to `params`.
 */
function selected(table: string, pieces: readonly RollupPiece[], mcpId: string, mcpIds: readonly string[] | null, params: unknown[], name = "sel"): string {
  // Why one range per piece, ORed, rather than a join with the pieces passed as arrays: the
  // planner then sees each (grain, bucket_start) range and reads just those index ranges. Joined
  // to unnest()ed bounds it guesses a third of the table per bound and scans all of it (a million
  // minute rows at 5 million events: most of a second per statement).
  const param = (value: unknown) => `$${params.push(value)}`;
  const ranges = pieces.map((p) => `(r.grain = ${param(p.grain)} AND r.bucket_start >= ${param(p.from)} AND r.bucket_start < ${param(p.to)})`);
  const filters = [`(${ranges.join(" OR ") || "false"})`];
  filters.push(mcpId ? `r.mcp_id = ${param(mcpId)}` : `r.mcp_id <> '${ALL_MCPS}'`);
  if (mcpIds) filters.push(`r.mcp_id = ANY (${param(mcpIds)}::text[])`);
  return `${name} AS (SELECT r.* FROM ${table} r WHERE ${filters.join(" AND ")})`;
}

/**
 * The bucket numbers holding the nearest-rank p50, p95 and p99 of the histograms of the rows of
 * `source` that `where` keeps, merged, as a subquery.
 */
function percentileBuckets(source: string, where: string): string {
  // Why float8: sum() of bigint is numeric, and the running sums over numeric cost more than the
  // merge itself; counts stay exact in float8 up to 2^53.
  return `(
    SELECT min(bucket) FILTER (WHERE upto >= ceil(0.50 * total)) AS p50,
      min(bucket) FILTER (WHERE upto >= ceil(0.95 * total)) AS p95,
      min(bucket) FILTER (WHERE upto >= ceil(0.99 * total)) AS p99
    FROM (
      SELECT bucket, sum(n) OVER (ORDER BY bucket) AS upto, sum(n) OVER () AS total
      FROM (
        SELECT u.bucket, sum(u.n::float8) AS n
        FROM ${source} s, unnest(s.hist_buckets, s.hist_counts) AS u(bucket, n)
        ${where}
        GROUP BY u.bucket
      ) merged
    ) cumulative
  )`;
}

/**
 * Per-MCP figures over the pieces, plus one row for all MCPs together (mcp_id null) when
 * neither `mcpId` nor `mcpIds` narrows them.
 *
 * @param mcpIds - only these MCPs (null: any).
 */
export async function summaries(db: Db, pieces: readonly RollupPiece[], mcpId: string, mcpIds: readonly string[] | null = null): Promise<SummaryRow[]> {
  // Why nearest rank over merged buckets: the p-th percentile is the bucket holding the
  // ceil(p * samples)-th smallest time, reported as the bucket's middle value clamped to the
  // exact min and max (within 2% of the exact percentile, see interaction_ms_bucket).
  // Why one merge per MCP (LATERAL) and the overall one from the all-MCP rows: each merge groups
  // a few thousand entries by bucket alone, where one merge of every MCP's entries grouped by
  // (MCP, bucket) and then sorted them all for the running sums (about 20% slower at 50 MCPs).
  const params: unknown[] = [];
  const overall = !mcpId && !mcpIds;
  const ctes = [selected("interaction_rollups", pieces, mcpId, mcpIds, params)];
  if (overall) ctes.push(selected("interaction_rollups", pieces, ALL_MCPS, null, params, "sel_all"));
  const { rows } = await db.query<SummaryRow>(
    `WITH ${ctes.join(",\n    ")},
    totals AS (
      SELECT mcp_id, sum(finished) AS finished, sum(succeeded) AS succeeded, sum(samples) AS samples,
        sum(sum_ms) AS sum_ms, min(min_ms) AS min_ms, max(max_ms) AS max_ms
      FROM sel GROUP BY mcp_id
      ${overall ? "UNION ALL SELECT NULL, sum(finished), sum(succeeded), sum(samples), sum(sum_ms), min(min_ms), max(max_ms) FROM sel_all HAVING count(*) > 0" : ""}
    ),
    ranks AS (
      SELECT g.mcp_id, x.p50, x.p95, x.p99
      FROM (SELECT DISTINCT mcp_id FROM sel) g CROSS JOIN LATERAL ${percentileBuckets("sel", "WHERE s.mcp_id = g.mcp_id")} x
      ${overall ? `UNION ALL SELECT NULL, x.p50, x.p95, x.p99 FROM ${percentileBuckets("sel_all", "")} x` : ""}
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
