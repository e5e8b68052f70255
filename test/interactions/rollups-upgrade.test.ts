/**
 * Migration 0007 builds the all-MCP ('*') rollups and those of the grains it adds from the
 * rollups already there; the rows it builds must be exactly those the rollup job builds from the
 * summaries.
 */
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ROLLUP_GRAINS } from "../../src/interactions/rollups/grains.js";
import { RollupJob } from "../../src/interactions/rollups/rollup-job.js";
import { queueFinishedMinutesSql } from "../../src/interactions/rollups/rollup-queries.js";
import { MIGRATIONS_DIR } from "../../src/store/migrate.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";

const MIGRATION = "0007_rollup_grains_and_all_mcps.sql";

describe("migration 0007 (rollup grains and all-MCP rollups)", function () {
  this.timeout(60_000);
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  async function rollups(): Promise<unknown[]> {
    const { rows } = await db.pool.query(
      `SELECT grain, bucket_start, mcp_id, finished::int, succeeded::int, samples::int, round(sum_ms::numeric, 6)::text AS sum_ms,
         min_ms, max_ms, hist_buckets, hist_counts::int[] FROM interaction_rollups ORDER BY 1, 2, 3`,
    );
    const errors = await db.pool.query(
      "SELECT grain, bucket_start, mcp_id, error_code, failed::int, last_at FROM interaction_error_rollups ORDER BY 1, 2, 3, 4",
    );
    return [...rows, ...errors.rows];
  }

  it("builds from the existing rollups the rows the job builds from the summaries", async () => {
    // Finished summaries of 3 MCPs over 20 days (so buckets of every grain), straight into the
    // table, their minutes queued as the writer queues them.
    await db.pool.query(`
      INSERT INTO interactions (mcp_id, interaction_id, first_event_at, last_event_at, first_seen_at, last_seen_at, event_count,
        started_at, terminal_kind, ended_at, success, error_code, reported_processing_ms)
      SELECT 'mcp-' || (i % 3), 'int-' || i, t, t, t, t, 2, t - make_interval(secs => (i % 997) / 10.0), 3, t, i % 7 <> 0,
        CASE WHEN i % 7 = 0 THEN 'E' || (i % 4) ELSE '' END, CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 7919 % 100000) / 10.0 END
      FROM generate_series(1, 3000) AS i, LATERAL (SELECT now() - make_interval(mins => i * 9 + (i % 13))) AS at(t)`);
    await db.pool.query(queueFinishedMinutesSql("interactions"));
    const job = new RollupJob(db.pool, testLogger());
    expect((await job.runOnce()).minutes).to.be.greaterThan(2500);
    const byJob = await rollups();
    const derived = `mcp_id = '*' OR grain NOT IN ('minute', 'hour', 'day')`;
    const { rows } = await db.pool.query<{ grain: string }>(`SELECT DISTINCT grain FROM interaction_rollups WHERE ${derived}`);
    expect(rows.map((r) => r.grain), "the job made rows of every grain").to.have.members(ROLLUP_GRAINS.map((g) => g.name));

    // What a database rolled up before 0007 holds: the same rows without those (and the
    // migration's function, so it can run again).
    await db.pool.query(`DELETE FROM interaction_rollups WHERE ${derived}`);
    await db.pool.query(`DELETE FROM interaction_error_rollups WHERE ${derived}`);
    await db.pool.query("DROP FUNCTION interaction_rollup_interval(text)");
    await db.pool.query(await readFile(path.join(MIGRATIONS_DIR, MIGRATION), "utf8"));
    expect(await rollups()).to.deep.equal(byJob);
  });
});
