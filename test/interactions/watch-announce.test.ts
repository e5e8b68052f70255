/**
 * The writers' side of the live tail, against a real database: a batch statement announces its
 * new events (never duplicates) on the events channel only when told someone watches, packs them
 * into notifications under Postgres's payload limit, and the announcement is delivered only when
 * its transaction commits. And the cached "anyone watching?" answer follows the shared lock of
 * this database only.
 */
import { toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import pg from "pg";
import { EventKind, InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { contributionOf } from "../../src/interactions/summary.js";
import { EVENTS_CHANNEL, parseAnnouncement, WATCHING_LOCK, type Announcement } from "../../src/interactions/watch/channel.js";
import { WatcherPresence } from "../../src/interactions/watch/watcher-presence.js";
import { storeBatch, type EventRow } from "../../src/interactions/writer-queries.js";
import { GroupCommitWriter } from "../../src/interactions/writer.js";
import type { WriteItem } from "../../src/interactions/writer-contract.js";
import { createTestDatabase, waitFor, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";
import { event } from "./events.js";

/** A connection LISTENing on the events channel, keeping what arrives. */
async function listen(connectionString: string): Promise<{ received: Announcement[]; raw: string[]; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const received: Announcement[] = [];
  const raw: string[] = [];
  client.on("notification", (message) => {
    raw.push(message.payload ?? "");
    const announcement = parseAnnouncement(message.payload);
    if (announcement) received.push(announcement);
  });
  await client.query(`LISTEN ${EVENTS_CHANNEL}`);
  return { received, raw, close: () => client.end() };
}

/** An event as the writer hands it to storeBatch. */
function rowOf(mcpId: string, e: InteractionEvent): EventRow {
  return {
    mcpId,
    eventId: e.eventId,
    interactionId: e.interactionId,
    sessionId: e.sessionId,
    kind: e.kind,
    occurredAtMs: timestampMs(e.occurredAt!),
    streamId: null,
    seq: null,
    payload: toBinary(InteractionEventSchema, e),
    ...contributionOf(e),
  };
}

describe("live tail: announcing stored events", () => {
  let db: TestDatabase;
  let writer: GroupCommitWriter;
  let announce = false;

  beforeEach(async () => {
    db = await createTestDatabase();
    await db.pool.query("SELECT ensure_interaction_event_partitions(current_date, 2)");
    announce = false;
    writer = new GroupCommitWriter(db.pool, testLogger(), { maxBatch: 1_000, maxDelayMs: 0, announce: () => announce });
  });
  afterEach(async () => {
    await writer.close();
    await db.drop();
  });

  async function write(mcpId: string, events: InteractionEvent[]) {
    const promises = writer.submit(events.map((e): WriteItem => ({ mcpId, event: e, streamId: null })));
    writer.kick();
    return (await Promise.all(promises)).map((o) => o.status);
  }

  /** Event ids of every reference received, in order. */
  const idsOf = (received: Announcement[]) => received.flatMap((a) => a.refs.map((r) => r.eventId));

  it("announces nothing while nobody watches, then the new events of each batch, never a duplicate", async () => {
    const listener = await listen(db.connectionString);
    try {
      const quiet = [event(EventKind.STARTED, "q-1", 1_000), event(EventKind.COMPLETED, "q-1", 2_000)];
      expect(await write("m1", quiet)).to.deep.equal(["stored", "stored"]);

      announce = true;
      const first = event(EventKind.STARTED, "w-1", 5_000);
      const second = event(EventKind.PROGRESS, "w-1", 3_000);
      expect(await write("m1", [first, second])).to.deep.equal(["stored", "stored"]);
      // A resend of a stored event (and of a quiet one) with one new event: only the new one.
      const third = event(EventKind.FAILED, "w-2", 4_000);
      expect(await write("m1", [first, quiet[0]!, third])).to.deep.equal(["duplicate", "duplicate", "stored"]);
      // Only duplicates: no notification at all. Then a marker, to know everything has arrived.
      expect(await write("m1", [second])).to.deep.equal(["duplicate"]);
      const marker = event(EventKind.STARTED, "marker", 6_000);
      await write("m2", [marker]);

      await waitFor(() => idsOf(listener.received).includes(marker.eventId), { message: "the marker's announcement" });
      // Notifications arrive in commit order: had the quiet batch been announced, it would come first.
      expect(listener.received.map((a) => a.refs.map((r) => [r.mcpId, r.interactionId, r.eventId, EventKind[r.kind]]))).to.deep.equal([
        // In the order the events happened, not the order sent.
        [
          ["m1", "w-1", second.eventId, "PROGRESS"],
          ["m1", "w-1", first.eventId, "STARTED"],
        ],
        [["m1", "w-2", third.eventId, "FAILED"]],
        [["m2", "marker", marker.eventId, "STARTED"]],
      ]);
      // received_at is the stored one, to the microsecond (the reader selects by it).
      for (const announcement of listener.received) {
        const { rows } = await db.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM interaction_events WHERE received_at = $1::timestamptz AND event_id = ANY($2)",
          [announcement.receivedAt, announcement.refs.map((r) => r.eventId)],
        );
        expect(rows[0]!.n).to.equal(announcement.refs.length);
      }
    } finally {
      await listener.close();
    }
  });

  it("packs a large batch with the longest ids into notifications under the payload limit", async () => {
    const listener = await listen(db.connectionString);
    try {
      announce = true;
      // 128 characters of 3 UTF-8 bytes and JSON escapes: the longest references ingest admits.
      const longId = (i: number) => `"\\€${String(i).padStart(4, "0")}`.padEnd(128, "€");
      const mcpId = "m".repeat(128);
      const events = Array.from({ length: 1_000 }, (_, i) => event(EventKind.PROGRESS, longId(i), 10_000 + i, { eventId: `${longId(i)}-e`.slice(0, 128) }));
      const statuses = await write(mcpId, events);
      expect(statuses.every((s) => s === "stored")).to.equal(true);
      await waitFor(() => idsOf(listener.received).length === 1_000, { message: "all 1,000 references" });
      // About 700 bytes a reference: about eight to a notification.
      expect(listener.raw.length).to.be.within(100, 200);
      expect(Math.max(...listener.raw.map((p) => Buffer.byteLength(p)))).to.be.below(7_500);
      expect(idsOf(listener.received)).to.deep.equal(events.map((e) => e.eventId));
      expect(listener.received.flatMap((a) => a.refs.map((r) => r.interactionId))).to.deep.equal(events.map((e) => e.interactionId));
      expect(new Set(listener.received.map((a) => a.receivedAt)).size, "one batch, one received_at").to.equal(1);
    } finally {
      await listener.close();
    }
  });

  it("delivers an announcement only when its transaction commits, and never one rolled back", async () => {
    const listener = await listen(db.connectionString);
    const client = await db.pool.connect();
    try {
      const rolledBack = event(EventKind.STARTED, "rb", 1_000);
      await client.query("BEGIN");
      await storeBatch(client, [rowOf("m1", rolledBack)], { announce: true });
      await client.query("ROLLBACK");

      const committed = event(EventKind.STARTED, "late", 2_000);
      await client.query("BEGIN");
      await storeBatch(client, [rowOf("m1", committed)], { announce: true });
      // Committed elsewhere while that transaction is open: announced first.
      const marker = event(EventKind.STARTED, "marker", 3_000);
      await storeBatch(db.pool, [rowOf("m2", marker)], { announce: true });
      await waitFor(() => idsOf(listener.received).includes(marker.eventId), { message: "the marker's announcement" });
      expect(idsOf(listener.received)).to.deep.equal([marker.eventId]);

      await client.query("COMMIT");
      await waitFor(() => idsOf(listener.received).length === 2, { message: "the announcement at commit" });
      expect(idsOf(listener.received)).to.deep.equal([marker.eventId, committed.eventId]);
    } finally {
      client.release();
      await listener.close();
    }
  });

  it("tells writers someone watches while a session of this database holds the shared lock", async () => {
    const presence = new WatcherPresence(db.pool, testLogger(), { refreshMs: 20, validMs: 5_000 });
    const other = await createTestDatabase();
    const holder = await db.pool.connect();
    const elsewhere = await other.pool.connect();
    try {
      // The same lock in another database is another lock (advisory locks are per database), and
      // other advisory locks of this one do not count.
      await elsewhere.query("SELECT pg_advisory_lock_shared($1, $2)", [WATCHING_LOCK.key1, WATCHING_LOCK.key2]);
      await holder.query("SELECT pg_advisory_lock(1, 2)");
      await presence.start();
      expect(presence.anyone()).to.equal(false);

      await holder.query("SELECT pg_advisory_lock_shared($1, $2)", [WATCHING_LOCK.key1, WATCHING_LOCK.key2]);
      await waitFor(() => presence.anyone(), { message: "seen watching" });
      await holder.query("SELECT pg_advisory_unlock_shared($1, $2)", [WATCHING_LOCK.key1, WATCHING_LOCK.key2]);
      await waitFor(() => !presence.anyone(), { message: "seen no longer watching" });
    } finally {
      await presence.close();
      holder.release(true);
      elsewhere.release(true);
      await other.drop();
    }
    // An answer older than validMs is not trusted: "yes".
    const stale = new WatcherPresence(db.pool, testLogger(), { refreshMs: 60_000, validMs: 0 });
    await stale.start();
    expect(stale.anyone()).to.equal(true);
    await stale.close();
  });
});
