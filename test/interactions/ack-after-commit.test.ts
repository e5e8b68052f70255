/**
 * An ack means committed: when the database connection breaks in the middle of a batch, none of
 * its events is acked; once the database answers again they are stored exactly once (the writer
 * retries, the client resends, dedupe keeps one row).
 */
import { expect } from "chai";
import type { PoolClient } from "pg";
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";
import { event } from "./events.js";
import { acksOf, openRawStream, type RawStream } from "./stream-client.js";

describe("ack after commit", () => {
  let server: TestCoordinator;
  let locker: PoolClient | undefined;
  const streams: RawStream[] = [];

  before(async () => {
    server = await startTestCoordinator({}, { writer: { concurrency: 1 } });
  });
  after(async () => {
    locker?.release();
    for (const stream of streams) stream.dispose();
    await server.stop();
  });

  it("acks nothing from a batch whose connection broke, then stores every event exactly once", async () => {
    const pool = server.coordinator.pool;
    const { token } = await createKey(pool, { role: "mcp", mcpId: "fragile-mcp" });
    const events = Array.from({ length: 20 }, (_, i) => event(EventKind.PROGRESS, `i-${i % 4}`, Date.now() + i));

    // Hold the dedupe table so the writer's next batch blocks inside its transaction.
    locker = await pool.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE interaction_event_keys IN EXCLUSIVE MODE");

    const first = openRawStream(server.address, token);
    streams.push(first);
    first.send({ frame: { case: "hello", value: {} } });
    await first.waitFor((f) => f.frame.case === "welcome");
    events.forEach((e, i) => first.send({ frame: { case: "event", value: { ...e, seq: BigInt(i + 1) } } }));

    // The writer's transaction is now waiting for the lock: cut its connection mid-batch.
    const blocked = await waitFor(async () => {
      // Asked outside the locker's transaction, whose statistics snapshot would never change.
      // (Not matched on query text: a statement blocked while being parsed still shows the
      // connection's previous query.)
      const { rows } = await pool.query(
        `SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
      );
      return rows[0]?.pid as number | undefined;
    }, { timeoutMs: 10_000, message: "writer blocked on the lock" });
    await locker.query("SELECT pg_terminate_backend($1)", [blocked]);
    // The writer retries and blocks again; nothing may have been acked.
    await waitFor(async () => {
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid NOT IN ($1, pg_backend_pid())`,
        [blocked],
      );
      return rows[0].n > 0;
    }, { timeoutMs: 10_000, message: "writer retried" });
    expect(acksOf(first), "acks sent for uncommitted events").to.have.length(0);

    // The client gives up on the first stream and resends everything on a new one.
    first.dispose();
    const second = openRawStream(server.address, token);
    streams.push(second);
    second.send({ frame: { case: "hello", value: {} } });
    await second.waitFor((f) => f.frame.case === "welcome");
    events.forEach((e, i) => second.send({ frame: { case: "event", value: { ...e, seq: BigInt(i + 1) } } }));

    await locker.query("COMMIT");
    await waitFor(() => acksOf(second).length === events.length, { timeoutMs: 15_000, message: "all events acked" });
    expect(acksOf(second).every((a) => a.status === AckStatus.STORED || a.status === AckStatus.DUPLICATE)).to.equal(true);

    const { rows } = await pool.query(
      "SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct_ids FROM interaction_events WHERE mcp_id = 'fragile-mcp'",
    );
    expect(rows[0]).to.deep.equal({ n: events.length, distinct_ids: events.length });
    const summary = await pool.query("SELECT sum(progress_count)::int AS n FROM interactions WHERE mcp_id = 'fragile-mcp'");
    expect(summary.rows[0].n).to.equal(events.length);
  });
});
