/**
 * The rollup job on the loaded data set: the backfill of every loaded minute, and one run of the
 * size the job meets every 5 s in steady state (a hundred fresh MCP-minutes), both timed.
 *
 * The backfill runs the coordinator's RollupJob as is. When one of its rounds exceeds the
 * statement timeout, as it does at 5 million events because the minute statements join the
 * queued minutes to the summaries with a hash or merge join on mcp_id alone (the planner cannot
 * estimate the ended_at range per minute, so it expects thousands of rows per minute where there
 * are one or two), the rest is run again with hash and merge joins disabled for those two
 * statements only; the report says so. Once the statements pick the per-minute index scan by
 * themselves, the fallback is never used.
 */
import { performance } from "node:perf_hooks";
import type { Pool, PoolClient, QueryConfig } from "pg";
import { RollupJob } from "../../src/interactions/rollups/rollup-job.js";
import { createLogger } from "../../src/logger.js";

/** What the backfill took. */
export interface Backfill {
  seconds: number;
  /** MCP-minutes recomputed (after a failure: by the fallback, i.e. those the failed run left). */
  minutes: number;
  /** The job as is failed: its error, and the time spent before it did. */
  failure?: { message: string; seconds: number };
}

const logger = createLogger("warn");

/** Runs the backfill (see the module comment). */
export async function backfillRollups(pool: Pool, log: (line: string) => void): Promise<Backfill> {
  const started = performance.now();
  try {
    const run = await new RollupJob(pool, logger).runOnce();
    return { seconds: (performance.now() - started) / 1000, minutes: run.minutes };
  } catch (error) {
    if ((error as { code?: string }).code !== "57014") throw error;
    const failedAfter = (performance.now() - started) / 1000;
    const message = (error as Error).message;
    log(`  PROBLEM: RollupJob.runOnce as is: "${message}" after ${failedAfter.toFixed(0)} s (a round's minute statements scan every summary);`);
    log("  going on with hash and merge joins disabled for those statements only (the same SQL and results, the per-minute index scan)");
    const again = performance.now();
    const run = await new RollupJob(nestedLoopPool(pool), logger).runOnce();
    return { seconds: (performance.now() - again) / 1000, minutes: run.minutes, failure: { message, seconds: failedAfter } };
  }
}

/**
 * Queues the `count` latest minute rollups again and times one RollupJob run over them: the work
 * the job does every 5 s under live ingest, on a table of this size. Returns seconds.
 */
export async function steadyStateRun(pool: Pool, count: number): Promise<number> {
  // Why the latest minutes: live ingest touches the current minute of each MCP; recomputing
  // existing minutes changes nothing in the rollups.
  await pool.query(
    `INSERT INTO interaction_rollup_queue (mcp_id, minute)
     SELECT mcp_id, bucket_start FROM interaction_rollups WHERE grain = 'minute' AND mcp_id <> '*' ORDER BY bucket_start DESC LIMIT $1`,
    [count],
  );
  const started = performance.now();
  await new RollupJob(pool, logger).runOnce();
  return (performance.now() - started) / 1000;
}

/** The two statements of rollup-queries.ts that join the queued minutes to the summaries. */
const MARKS_JOIN_SUMMARIES = /FROM rollup_marks m\s+JOIN interactions i/;

/** A Pool look-alike whose clients run MARKS_JOIN_SUMMARIES statements without hash or merge joins. */
function nestedLoopPool(pool: Pool): Pool {
  return {
    async connect() {
      const client: PoolClient = await pool.connect();
      return {
        async query(config: string | QueryConfig, values?: unknown[]) {
          const text = typeof config === "string" ? config : config.text;
          if (!MARKS_JOIN_SUMMARIES.test(text)) return typeof config === "string" ? client.query(config, values) : client.query(config);
          await client.query("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off");
          const result = typeof config === "string" ? await client.query(config, values) : await client.query(config);
          await client.query("SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = on");
          return result;
        },
        release: (error?: Error | boolean) => client.release(error),
      };
    },
  } as unknown as Pool;
}
