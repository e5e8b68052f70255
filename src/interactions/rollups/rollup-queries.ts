/**
 * SQL of the rollup job (migration 0005 has the tables, 0007 the grains and the all-MCP rows, 0008
 * the queue's queued_at; the writer's statement fills the queue, with migration 0009's trigger for
 * the minutes a summary leaves). Every statement runs inside the job's REPEATABLE READ
 * transaction, so all of them see the same summaries and the same queue rows, and deleting "the
 * queue rows handled" deletes exactly those that were read.
 */
import type { PoolClient } from "pg";
import { MINUTE_GRAIN, ROLLUP_GRAINS, type RollupGrain } from "./grains.js";

/** Only one replica runs the job at a time ("mcpc" and "rlup" as two int4 keys). */
const ROLLUP_LOCK = "1835233379, 1919708528";

/** The mcp_id of the rows for all MCPs together (migration 0007); no MCP id can be "*". */
export const ALL_MCPS = "*";

/**
 * SQL that queues, for the rollup job, the minute (of ended_at) of every finished summary among
 * the rows of `source` (a table or CTE with mcp_id and ended_at), once per (MCP, minute). The
 * writer's statement runs it over the summaries its upsert returned; loaders that write summaries
 * straight into the table run it the same way.
 */
export function queueFinishedMinutesSql(source: string): string {
  return `INSERT INTO interaction_rollup_queue (mcp_id, minute)
    SELECT DISTINCT mcp_id, date_trunc('minute', ended_at, 'UTC') FROM ${source} WHERE ended_at IS NOT NULL`;
}

/** Takes the job's lock for this transaction, or returns false when another replica holds it. */
export async function tryLockRollups(client: PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_xact_lock(${ROLLUP_LOCK}) AS locked`);
  return rows[0]!.locked;
}

/**
 * Copies up to `limit` queued (mcp_id, minute) pairs, oldest minutes first, into the
 * transaction's temporary table rollup_marks; returns how many. A minute that has not ended yet
 * is taken only once one of its queue rows is `settleMs` old.
 */
export async function takeMarks(client: PoolClient, limit: number, settleMs: number): Promise<number> {
  // Why a temporary table: the statements below all join the same marks, and the queue may hold
  // one row per writer statement where the marks are distinct. Why the settle time: recomputing
  // reads every summary of the minute, so recomputing a filling minute at every run would read
  // it over and over.
  await client.query(`CREATE TEMPORARY TABLE rollup_marks ON COMMIT DROP AS
    SELECT mcp_id, minute FROM (
      SELECT mcp_id, minute FROM interaction_rollup_queue
      GROUP BY mcp_id, minute
      HAVING minute < date_trunc('minute', now(), 'UTC') OR min(queued_at) <= now() - $2 * interval '1 millisecond'
    ) q
    ORDER BY minute LIMIT $1`, [limit, settleMs]);
  // Temporary tables are never auto-analyzed: without this the planner guesses their size.
  await client.query("ANALYZE rollup_marks");
  const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM rollup_marks");
  return Number(rows[0]!.n);
}

// The summaries of mark m's MCP that ended in its minute. Why a LATERAL subquery with OFFSET 0:
// it cannot be flattened into a join, so each mark is one probe of interactions (mcp_id,
// ended_at); as a plain join the planner may hash or merge every summary of the table against
// a large queue (a backfill of 20,000 marks then read millions of rows instead of thousands).
const summariesOfMinute = `SELECT success, error_code, ended_at, processing_ms FROM interactions
  WHERE mcp_id = m.mcp_id AND ended_at >= m.minute AND ended_at < m.minute + interval '1 minute' OFFSET 0`;

/** Recomputes the minute rollups of the marked minutes from the interaction summaries. */
export async function recomputeMinutes(client: PoolClient): Promise<void> {
  const buckets = "SELECT mcp_id, minute AS bucket_start FROM rollup_marks";
  await deleteMarked(client, MINUTE_GRAIN, buckets);
  await deleteMarkedErrors(client, MINUTE_GRAIN, buckets);
  // Why one statement: the totals and the error codes come from the same summaries, read once
  // (MATERIALIZED) rather than once per table. Why group by bucket first: the histogram arrays
  // are built from one row per (minute, MCP, bucket); the NULL bucket gathers interactions
  // without a processing time (samples 0).
  await client.query(`
    WITH s AS MATERIALIZED (
      -- Negative times (clock skew) count as 0; NULL (unknown) stays out of the time figures.
      SELECT m.minute, m.mcp_id, i.success, i.error_code, i.ended_at, CASE WHEN i.processing_ms < 0 THEN 0 ELSE i.processing_ms END AS ms
      FROM rollup_marks m
      CROSS JOIN LATERAL (${summariesOfMinute}) i
    ),
    totals AS (
      INSERT INTO interaction_rollups (grain, bucket_start, mcp_id, finished, succeeded, samples, sum_ms, min_ms, max_ms, hist_buckets, hist_counts)
      SELECT 'minute', b.minute, b.mcp_id, sum(b.finished), sum(b.succeeded), sum(b.samples), sum(b.sum_ms), min(b.min_ms), max(b.max_ms),
        COALESCE(array_agg(b.bucket ORDER BY b.bucket) FILTER (WHERE b.bucket IS NOT NULL), '{}'),
        COALESCE(array_agg(b.samples ORDER BY b.bucket) FILTER (WHERE b.bucket IS NOT NULL), '{}')
      FROM (
        SELECT s.minute, s.mcp_id, interaction_ms_bucket(s.ms) AS bucket,
          count(*) AS finished, count(*) FILTER (WHERE s.success) AS succeeded, count(s.ms) AS samples,
          COALESCE(sum(s.ms), 0) AS sum_ms, min(s.ms) AS min_ms, max(s.ms) AS max_ms
        FROM s
        GROUP BY 1, 2, 3
      ) b
      GROUP BY b.minute, b.mcp_id
    )
    INSERT INTO interaction_error_rollups (grain, bucket_start, mcp_id, error_code, failed, last_at)
    SELECT 'minute', s.minute, s.mcp_id, s.error_code, count(*), max(s.ended_at)
    FROM s
    WHERE NOT s.success
    GROUP BY 2, 3, 4`);
}

/**
 * Recomputes the all-MCP minute rollups of the marked minutes from the MCPs' own (so after
 * {@link recomputeMinutes}), and marks them, so the levels above are recomputed for all MCPs too.
 */
export async function recomputeAllMcpMinutes(client: PoolClient): Promise<void> {
  // EXCEPT: a queue row for '*' itself (never made by the writer) must not mark a minute twice.
  await client.query(`INSERT INTO rollup_marks
    SELECT '${ALL_MCPS}', minute FROM rollup_marks EXCEPT SELECT mcp_id, minute FROM rollup_marks WHERE mcp_id = '${ALL_MCPS}'`);
  const minutes = `SELECT mcp_id, minute AS bucket_start FROM rollup_marks WHERE mcp_id = '${ALL_MCPS}'`;
  // The MCPs' rows of the same minute, found through the primary key (grain, bucket_start, mcp_id).
  await merge(client, MINUTE_GRAIN, minutes, `r.grain = 'minute' AND r.bucket_start = p.bucket_start AND r.mcp_id <> '${ALL_MCPS}'`);
}

/** Recomputes the rollups of every grain above the minute over the marked minutes, each from the grain below. */
export async function recomputeAboveMinutes(client: PoolClient): Promise<void> {
  for (let i = 1; i < ROLLUP_GRAINS.length; i++) await rollUp(client, ROLLUP_GRAINS[i - 1]!, ROLLUP_GRAINS[i]!);
}

/** Removes the queue rows the marks came from (only those this transaction saw). */
export async function clearMarks(client: PoolClient): Promise<void> {
  await client.query(`DELETE FROM interaction_rollup_queue q USING rollup_marks m WHERE q.mcp_id = m.mcp_id AND q.minute = m.minute`);
}

/** Deletes up to `limit` rollup rows whose bucket ended before `before`; returns how many. */
export async function trimRollups(client: PoolClient, before: Date, limit: number): Promise<number> {
  // Why by bucket end: a day row that still covers kept interactions stays.
  const { rowCount } = await client.query(
    `DELETE FROM interaction_rollups WHERE ctid IN (
       SELECT ctid FROM interaction_rollups
        WHERE bucket_start < $1 AND bucket_start + interaction_rollup_interval(grain) <= $1
        LIMIT $2)`,
    [before, limit],
  );
  const errors = await client.query(
    `DELETE FROM interaction_error_rollups WHERE ctid IN (
       SELECT ctid FROM interaction_error_rollups
        WHERE bucket_start < $1 AND bucket_start + interaction_rollup_interval(grain) <= $1
        LIMIT $2)`,
    [before, limit],
  );
  return (rowCount ?? 0) + (errors.rowCount ?? 0);
}

/** The marked buckets of `grain` (distinct (mcp_id, bucket_start)), as SQL. */
function markedBuckets(grain: RollupGrain): string {
  return `SELECT DISTINCT mcp_id, date_bin(interval '${grain.interval}', minute, timestamptz '1970-01-01 00:00:00+00') AS bucket_start FROM rollup_marks`;
}

/** Replaces the marked `parent` rollups with the merge of their `child` rollups. */
async function rollUp(client: PoolClient, child: RollupGrain, parent: RollupGrain): Promise<void> {
  await merge(
    client,
    parent,
    markedBuckets(parent),
    `r.grain = '${child.name}' AND r.mcp_id = p.mcp_id AND r.bucket_start >= p.bucket_start AND r.bucket_start < p.bucket_start + interval '${parent.interval}'`,
  );
}

/**
 * Replaces the `grain` rollups of `parents` (SQL yielding mcp_id, bucket_start) with the merge of
 * the rollup rows r that `children` (a condition on r and the parent p) selects.
 */
async function merge(client: PoolClient, grain: RollupGrain, parents: string, children: string): Promise<void> {
  await deleteMarked(client, grain, parents);
  // Why lateral subqueries per parent, for the totals as for the histogram: each reads that
  // parent's children through an index. As a plain join the planner cannot estimate the
  // per-parent bucket_start range and joins on mcp_id alone, reading every child row (a million
  // minute rows at 5 million events). The histogram sums the children's bucket counts bucket by
  // bucket. A parent whose children are all gone gets no row (the totals' HAVING drops it, and
  // the DELETE above removed the old one).
  await client.query(`
    INSERT INTO interaction_rollups (grain, bucket_start, mcp_id, finished, succeeded, samples, sum_ms, min_ms, max_ms, hist_buckets, hist_counts)
    SELECT '${grain.name}', p.bucket_start, p.mcp_id, t.finished, t.succeeded, t.samples, t.sum_ms, t.min_ms, t.max_ms,
      COALESCE(h.buckets, '{}'), COALESCE(h.counts, '{}')
    FROM (${parents}) p
    CROSS JOIN LATERAL (
      SELECT sum(r.finished) AS finished, sum(r.succeeded) AS succeeded, sum(r.samples) AS samples,
        sum(r.sum_ms) AS sum_ms, min(r.min_ms) AS min_ms, max(r.max_ms) AS max_ms
      FROM interaction_rollups r WHERE ${children}
      HAVING count(*) > 0
    ) t
    LEFT JOIN LATERAL (
      SELECT array_agg(x.bucket ORDER BY x.bucket) AS buckets, array_agg(x.n ORDER BY x.bucket) AS counts
      FROM (
        SELECT u.bucket, sum(u.n)::bigint AS n
        FROM interaction_rollups r, unnest(r.hist_buckets, r.hist_counts) AS u(bucket, n)
        WHERE ${children}
        GROUP BY u.bucket
      ) x
    ) h ON true`);
  await deleteMarkedErrors(client, grain, parents);
  await client.query(`
    INSERT INTO interaction_error_rollups (grain, bucket_start, mcp_id, error_code, failed, last_at)
    SELECT '${grain.name}', p.bucket_start, p.mcp_id, e.error_code, e.failed, e.last_at
    FROM (${parents}) p
    CROSS JOIN LATERAL (
      SELECT r.error_code, sum(r.failed) AS failed, max(r.last_at) AS last_at
      FROM interaction_error_rollups r WHERE ${children}
      GROUP BY r.error_code
    ) e`);
}

async function deleteMarked(client: PoolClient, grain: RollupGrain, buckets: string): Promise<void> {
  await client.query(`DELETE FROM interaction_rollups r USING (${buckets}) p
    WHERE r.grain = '${grain.name}' AND r.bucket_start = p.bucket_start AND r.mcp_id = p.mcp_id`);
}

async function deleteMarkedErrors(client: PoolClient, grain: RollupGrain, buckets: string): Promise<void> {
  await client.query(`DELETE FROM interaction_error_rollups r USING (${buckets}) p
    WHERE r.grain = '${grain.name}' AND r.bucket_start = p.bucket_start AND r.mcp_id = p.mcp_id`);
}
