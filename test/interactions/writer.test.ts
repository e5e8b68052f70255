/**
 * The group-commit writer against a real database: dedupe, order-independent summaries, and
 * isolation of an event the database refuses.
 */
import { expect } from "chai";
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { GroupCommitWriter } from "../../src/interactions/writer.js";
import type { WriteItem } from "../../src/interactions/writer-contract.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";
import { event } from "./events.js";

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const SUMMARY_COLUMNS = `session_id, status, first_event_at, last_event_at, event_count, started_at, started_event_id,
  request_type, user_id, progress_count, last_progress_at, last_progress_event_id, last_progress, terminal_kind,
  ended_at, terminal_event_id, success, error_code, error_message, reported_processing_ms, processing_ms`;

describe("group-commit writer", () => {
  let db: TestDatabase;
  let writer: GroupCommitWriter;

  beforeEach(async () => {
    db = await createTestDatabase();
    await db.pool.query("SELECT ensure_interaction_event_partitions(current_date, 2)");
    writer = new GroupCommitWriter(db.pool, testLogger(), { maxBatch: 7, maxDelayMs: 0 });
  });
  afterEach(async () => {
    await writer.close();
    await db.drop();
  });

  async function write(items: WriteItem[]) {
    const promises = writer.submit(items);
    writer.kick();
    return Promise.all(promises);
  }

  it("stores each event once and answers repeats as duplicates, within and across batches", async () => {
    const a = event(EventKind.STARTED, "i1", 1_000);
    const b = event(EventKind.COMPLETED, "i1", 2_000);
    const outcomes = await write([
      { mcpId: "m1", event: a, streamId: "s1" },
      { mcpId: "m1", event: a, streamId: "s1" },
      { mcpId: "m1", event: b, streamId: "s1" },
      // The same event_id from another MCP is a different event.
      { mcpId: "m2", event: a, streamId: "s2" },
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(["stored", "duplicate", "stored", "stored"]);
    const again = await write([{ mcpId: "m1", event: b, streamId: null }]);
    expect(again[0]!.status).to.equal("duplicate");
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM interaction_events");
    expect(rows[0].n).to.equal(3);
    const summary = await db.pool.query("SELECT status, event_count, success, processing_ms FROM interactions WHERE mcp_id = 'm1'");
    expect(summary.rows).to.deep.equal([{ status: 3, event_count: 2, success: true, processing_ms: 1500 }]);
  });

  it("computes the same summary whatever order and grouping the events arrive in", async () => {
    const events = [
      event(EventKind.STARTED, "x", 1_000, { sessionId: "sess-1" }),
      event(EventKind.STARTED, "x", 1_000, { sessionId: "sess-0" }), // a second start at the same instant
      event(EventKind.PROGRESS, "x", 2_000, { sessionId: "zzz" }),
      event(EventKind.PROGRESS, "x", 3_000),
      event(EventKind.PROGRESS, "x", 3_000),
      event(EventKind.COMPLETED, "x", 4_000),
      event(EventKind.FAILED, "x", 3_500),
      event(EventKind.COMPLETED, "x", 5_000),
    ];
    const results: unknown[] = [];
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const mcpId = `mcp-${seed}`;
      const order = shuffle(events, seed);
      // Random grouping: cut the shuffled list into batches of 1 to 3 events.
      for (let i = 0; i < order.length; ) {
        const size = 1 + ((seed + i) % 3);
        await write(order.slice(i, i + size).map((e) => ({ mcpId, event: e, streamId: null })));
        i += size;
      }
      const { rows } = await db.pool.query(`SELECT ${SUMMARY_COLUMNS} FROM interactions WHERE mcp_id = $1`, [mcpId]);
      results.push(rows[0]);
    }
    for (const result of results.slice(1)) expect(result).to.deep.equal(results[0]);
    const first = results[0] as Record<string, unknown>;
    expect(first.status).to.equal(4); // FAILED wins over COMPLETED
    expect(first.progress_count).to.equal(3);
    expect(first.event_count).to.equal(8);
    expect(first.error_code).to.equal("E42");
  });

  it("refuses only the event the database cannot store, and stores the rest of its batch", async () => {
    const good = [event(EventKind.STARTED, "ok-1", 1_000), event(EventKind.STARTED, "ok-2", 1_000)];
    // Postgres text cannot hold NUL: this row makes the whole statement fail.
    const bad = event(EventKind.STARTED, "bad\u0000id", 1_000);
    const outcomes = await write([good[0]!, bad, good[1]!].map((e) => ({ mcpId: "m", event: e, streamId: null })));
    expect(outcomes.map((o) => o.status)).to.deep.equal(["stored", "refused", "stored"]);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM interaction_events");
    expect(rows[0].n).to.equal(2);
  });
});
