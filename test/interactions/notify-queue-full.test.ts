/**
 * A full NOTIFY queue must not cost events: on a PostgreSQL of its own with the smallest queue
 * (max_notify_queue_pages 64, about 512 kB) and a session that LISTENs but sits in a transaction
 * (so the queue cannot advance past it), the writer keeps storing, without announcing, and every
 * event is acked STORED. Once that session leaves, announcing works again.
 */
import { expect } from "chai";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { EVENTS_CHANNEL } from "../../src/interactions/watch/channel.js";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../src/store/embedded.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";
import { testLogger } from "../support/logger.js";
import { event } from "./events.js";
import { watch } from "./watch-support.js";

describe("a full NOTIFY queue", function () {
  this.timeout(180_000);
  let dataDir: string;
  let postgres: EmbeddedPostgres;
  let server: TestCoordinator;
  let blocker: pg.Client;
  const channels: { close(): void }[] = [];

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-notify-"));
    await chmod(dataDir, 0o755); // the "postgres" OS user must be able to enter it when we are root
    postgres = await startEmbeddedPostgres({ dataDir, logger: testLogger(), settings: { fsync: "off", max_notify_queue_pages: "64" } });
    server = await startTestCoordinator({ databaseUrl: postgres.connectionString });
  });
  after(async () => {
    for (const channel of channels) channel.close();
    await blocker?.end().catch(() => undefined);
    await server?.stop();
    await postgres?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("stores events without announcing them rather than refusing them, and announces again once the queue drains", async () => {
    const pool = server.coordinator.pool;
    const reporter = clientFor(InteractionService, server.address, (await createKey(pool, { role: "admin", principal: "loader" })).token);
    const reader = clientFor(InteractionService, server.address, (await createKey(pool, { role: "operator", principal: "reader" })).token);
    channels.push(reporter.channel, reader.channel);
    // A watcher (so the writer announces) that wants only the event sent after the recovery.
    const watcher = watch(reader.client, { interactionId: "after-recovery" });
    await watcher.live;

    blocker = new pg.Client({ connectionString: postgres.connectionString });
    await blocker.connect();
    await blocker.query(`LISTEN ${EVENTS_CHANNEL}`);
    await blocker.query("BEGIN");
    await blocker.query("SELECT 1");

    const writer = server.coordinator.ingest.writer;
    const padding = "p".repeat(100);
    let sent = 0;
    for (let call = 0; call < 60 && writer.stats().unannouncedBatches === 0; call++) {
      const events = Array.from({ length: 500 }, (_, i) => event(EventKind.STARTED, `fill-${call}-${i}-${padding}`, Date.now()));
      const { acks } = await reporter.client.reportInteractions({ mcpId: "notify-mcp", events });
      expect(acks.map((a) => AckStatus[a.status]).filter((s) => s !== "STORED"), `acks of call ${call}`).to.deep.equal([]);
      sent += events.length;
    }
    expect(writer.stats().unannouncedBatches, "statements stored unannounced once the queue was full").to.be.greaterThan(0);
    const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM interaction_events WHERE mcp_id = 'notify-mcp'");
    expect(Number(rows[0]!.n)).to.equal(sent);

    // The listener leaves its transaction and stops listening: the queue drains (PostgreSQL
    // frees its pages lazily, so an event stored at once may still go unannounced; new events
    // are reported until one reaches the watcher).
    await blocker.query("COMMIT");
    await blocker.query("UNLISTEN *");
    const before = writer.stats().unannouncedBatches;
    let attempts = 0;
    await waitFor(
      async () => {
        if (watcher.events.length > 0) return true;
        const { acks } = await reporter.client.reportInteractions({ mcpId: "notify-mcp", events: [event(EventKind.STARTED, "after-recovery", Date.now())] });
        expect(AckStatus[acks[0]!.status]).to.equal("STORED");
        attempts++;
        return false;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: "an event stored after the recovery reaches the watcher" },
    );
    expect(watcher.events[0]!.event?.interactionId).to.equal("after-recovery");
    expect(writer.stats().unannouncedBatches - before, "unannounced after the recovery").to.be.below(attempts);
    await watcher.cancel();
  });
});
