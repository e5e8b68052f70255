/**
 * Retention against a real database: whole monthly partitions past the cutoff are dropped and no
 * others; dedupe keys and summaries of dropped events go with them, the rest stay; replicas
 * running it at once do it once.
 */
import { expect } from "chai";
import type { Pool } from "pg";
import { RetentionJob } from "../../src/interactions/retention.js";
import { ensureEventPartitions } from "../../src/interactions/writer-queries.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";

/** Stores one event (with its key and a summary row) as received at `at`. */
async function storeAt(pool: Pool, at: Date, interactionId: string, eventId: string): Promise<void> {
  await pool.query(
    `INSERT INTO interaction_events (received_at, mcp_id, event_id, interaction_id, kind, occurred_at, payload)
     VALUES ($1, 'ret-mcp', $2, $3, 1, $1, '\\x00')`,
    [at, eventId, interactionId],
  );
  await pool.query("INSERT INTO interaction_event_keys (mcp_id, event_id, received_at) VALUES ('ret-mcp', $1, $2)", [eventId, at]);
  await pool.query(
    `INSERT INTO interactions (mcp_id, interaction_id, first_event_at, last_event_at, first_seen_at, last_seen_at, event_count)
     VALUES ('ret-mcp', $1, $2, $2, $2, $2, 1)
     ON CONFLICT (mcp_id, interaction_id) DO UPDATE SET last_seen_at = greatest(interactions.last_seen_at, $2),
       first_seen_at = least(interactions.first_seen_at, $2), event_count = interactions.event_count + 1`,
    [interactionId, at],
  );
}

async function state(pool: Pool) {
  const partitions = await pool.query<{ name: string }>(
    "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'interaction_events'::regclass ORDER BY 1",
  );
  const events = await pool.query<{ id: string }>("SELECT event_id AS id FROM interaction_events ORDER BY 1");
  const keys = await pool.query<{ id: string }>("SELECT event_id AS id FROM interaction_event_keys ORDER BY 1");
  const interactions = await pool.query<{ id: string }>("SELECT interaction_id AS id FROM interactions ORDER BY 1");
  return {
    partitions: partitions.rows.map((r) => r.name),
    events: events.rows.map((r) => r.id),
    keys: keys.rows.map((r) => r.id),
    interactions: interactions.rows.map((r) => r.id),
  };
}

describe("retention", function () {
  this.timeout(30_000);
  let database: TestDatabase;
  const thisMonth = new Date();
  const month = (d: Date) => `interaction_events_${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}`;

  beforeEach(async () => {
    database = await createTestDatabase();
    await database.pool.query("SELECT ensure_interaction_event_partitions('2025-01-01', 3)");
    await ensureEventPartitions(database.pool, 2);
    await storeAt(database.pool, new Date(Date.UTC(2025, 0, 10)), "jan", "e-jan");
    await storeAt(database.pool, new Date(Date.UTC(2025, 1, 10)), "feb", "e-feb");
    // One interaction spans the months: its first event is old, its last one recent.
    await storeAt(database.pool, new Date(Date.UTC(2025, 2, 10)), "long", "e-long-1");
    await storeAt(database.pool, new Date(), "long", "e-long-2");
    await storeAt(database.pool, new Date(), "now", "e-now");
  });
  afterEach(async () => {
    await database.drop();
  });

  it("drops the partitions whose month ended before the cutoff, and only those, with their keys and summaries", async () => {
    // A cutoff in the middle of February 2025: January has ended before it, February has not.
    const job = new RetentionJob(database.pool, testLogger(), { retentionMs: Date.now() - Date.UTC(2025, 1, 15) });
    const run = await job.runOnce();
    expect(run).to.deep.include({ ran: true, droppedPartitions: ["interaction_events_202501"], trimmedKeys: 1, trimmedInteractions: 1 });
    const after = await state(database.pool);
    expect(after.partitions).to.include.members(["interaction_events_202502", "interaction_events_202503", month(thisMonth), "interaction_events_default"]);
    expect(after.partitions).to.not.include("interaction_events_202501");
    expect(after.events).to.deep.equal(["e-feb", "e-long-1", "e-long-2", "e-now"]);
    expect(after.keys).to.deep.equal(["e-feb", "e-long-1", "e-long-2", "e-now"]);
    expect(after.interactions).to.deep.equal(["feb", "long", "now"]);
  });

  it("with the default 30 days: every 2025 month goes; an interaction still reporting keeps its summary", async () => {
    const run = await new RetentionJob(database.pool, testLogger()).runOnce();
    expect(run.droppedPartitions).to.deep.equal(["interaction_events_202501", "interaction_events_202502", "interaction_events_202503"]);
    const after = await state(database.pool);
    expect(after.events).to.deep.equal(["e-long-2", "e-now"]);
    expect(after.keys).to.deep.equal(["e-long-2", "e-now"]);
    expect(after.interactions).to.deep.equal(["long", "now"]);
    // Partitions ahead of need are still there.
    const next = new Date(Date.UTC(thisMonth.getUTCFullYear(), thisMonth.getUTCMonth() + 1, 1));
    expect(after.partitions).to.include(month(next));
  });

  it("trims the rollups whose buckets ended before the cutoff, at every grain", async () => {
    const cutoff = Date.UTC(2025, 1, 15, 12, 30);
    const rollup = (grain: string, at: number) =>
      database.pool.query(
        `INSERT INTO interaction_rollups VALUES ($1, $2, 'ret-mcp', 1, 1, 0, 0, NULL, NULL, '{}', '{}')`,
        [grain, new Date(at)],
      );
    const errors = (grain: string, at: number) =>
      database.pool.query(`INSERT INTO interaction_error_rollups VALUES ($1, $2, 'ret-mcp', 'E', 1, $2)`, [grain, new Date(at)]);
    // Ended before the cutoff: the minute and hour before it, the day before.
    for (const [grain, at] of [["minute", cutoff - 60_000], ["hour", cutoff - 90 * 60_000], ["day", Date.UTC(2025, 1, 14)]] as const) {
      await rollup(grain, at);
      await errors(grain, at);
    }
    // Still covering kept time: the cutoff's own minute, hour and day.
    for (const [grain, at] of [["minute", cutoff], ["hour", Date.UTC(2025, 1, 15, 12)], ["day", Date.UTC(2025, 1, 15)]] as const) {
      await rollup(grain, at);
      await errors(grain, at);
    }
    const run = await new RetentionJob(database.pool, testLogger(), { retentionMs: Date.now() - cutoff }).runOnce();
    expect(run.trimmedRollups).to.equal(6);
    const kept = await database.pool.query<{ grain: string; at: Date }>("SELECT grain, bucket_start AS at FROM interaction_rollups ORDER BY 1");
    expect(kept.rows.map((r) => [r.grain, r.at.toISOString()])).to.deep.equal([
      ["day", "2025-02-15T00:00:00.000Z"],
      ["hour", "2025-02-15T12:00:00.000Z"],
      ["minute", "2025-02-15T12:30:00.000Z"],
    ]);
    expect((await database.pool.query("SELECT 1 FROM interaction_error_rollups")).rowCount).to.equal(3);
  });

  it("runs once when two replicas start it together, and a second run changes nothing", async () => {
    const a = new RetentionJob(database.pool, testLogger());
    const b = new RetentionJob(database.pool, testLogger());
    const runs = await Promise.all([a.runOnce(), b.runOnce()]);
    const dropped = runs.flatMap((r) => r.droppedPartitions);
    expect(dropped.sort()).to.deep.equal(["interaction_events_202501", "interaction_events_202502", "interaction_events_202503"]);
    const before = await state(database.pool);
    const again = await a.runOnce();
    expect(again).to.deep.include({ ran: true, droppedPartitions: [], trimmedKeys: 0, trimmedInteractions: 0 });
    expect(await state(database.pool)).to.deep.equal(before);
  });
});
