/**
 * The rollup job's settle time: a minute that has not ended yet is recomputed only once a change
 * to it has waited settleMs; ended minutes are recomputed at the next run.
 */
import { expect } from "chai";
import { RollupJob } from "../../src/interactions/rollups/rollup-job.js";
import { queueFinishedMinutesSql } from "../../src/interactions/rollups/rollup-queries.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";

describe("rollup settle time", () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  /** A finished summary, straight into the table, its minute queued as the writer queues it. */
  async function finish(id: string, endedAt: string): Promise<void> {
    await db.pool.query(
      `WITH summary AS (
         INSERT INTO interactions (mcp_id, interaction_id, first_event_at, last_event_at, first_seen_at, last_seen_at, event_count, terminal_kind, ended_at, success)
         SELECT 'settle-mcp', $1, t, t, now(), now(), 1, 3, t, true FROM (SELECT ${endedAt} AS t) x
         RETURNING mcp_id, ended_at
       )
       ${queueFinishedMinutesSql("summary")}`,
      [id],
    );
  }

  async function minuteRows(): Promise<number> {
    const { rows } = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM interaction_rollups WHERE grain = 'minute' AND mcp_id = 'settle-mcp'");
    return Number(rows[0]!.n);
  }

  it("recomputes ended minutes at once and a minute still to come after its changes waited", async () => {
    const job = new RollupJob(db.pool, testLogger(), { settleMs: 60_000 });
    // An ended minute, and one that has not begun (a clock ahead of ours): deterministic
    // whatever second of the minute the test runs at.
    await finish("ended", "now() - interval '3 minutes'");
    await finish("to-come", "now() + interval '3 minutes'");
    expect((await job.runOnce()).minutes).to.equal(1);
    expect(await minuteRows()).to.equal(1);
    const { rows } = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM interaction_rollup_queue");
    expect(Number(rows[0]!.n), "the unsettled minute stays queued").to.equal(1);

    // Its change has now waited long enough.
    await db.pool.query("UPDATE interaction_rollup_queue SET queued_at = now() - interval '61 seconds'");
    expect((await job.runOnce()).minutes).to.equal(1);
    expect(await minuteRows()).to.equal(2);
  });
});
