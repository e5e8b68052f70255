/**
 * The live tail across replicas: two real coordinator processes on one database, with the
 * default presence timing. Events stored through either replica (by the typed client's stream, or
 * by ReportInteractions) reach watchers on both, each replica with watchers holds the shared
 * watching lock, and GetStats counts each replica's own watchers.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { createReporter, type Reporter } from "../../src/client/index.js";
import { WATCHING_LOCK } from "../../src/interactions/watch/channel.js";
import { clientFor } from "../support/clients.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCoordinator, servingPort, type CoordinatorProcess } from "../support/process.js";
import { event } from "./events.js";
import { watch, type InteractionClient, type Watch } from "./watch-support.js";

describe("WatchInteractions across replicas", function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let dir: string;
  const processes: CoordinatorProcess[] = [];
  const closers: (() => unknown)[] = [];

  before(async () => {
    database = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), "mcpc-watch-replicas-"));
  });
  after(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    for (const proc of processes.splice(0)) proc.kill();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  /** `mcp-coordinator serve` on a free port against the test database; returns its address. */
  async function replica(name: string): Promise<string> {
    const proc = runCoordinator(["serve", "--listen", "127.0.0.1:0", "--data-dir", path.join(dir, name), "--shutdown-grace", "2s"], {
      DATABASE_URL: database.connectionString,
    });
    processes.push(proc);
    return `127.0.0.1:${await servingPort(proc)}`;
  }

  function client(address: string, token: string): InteractionClient {
    const { client, channel } = clientFor(InteractionService, address, token);
    closers.push(() => channel.close());
    return client;
  }

  it("a watcher on either replica sees the events stored through the other", async () => {
    const [addressA, addressB] = await Promise.all([replica("a"), replica("b")]);
    const [alpha, beta, olga] = await Promise.all([
      createKey(database.pool, { role: "mcp", mcpId: "alpha" }),
      createKey(database.pool, { role: "mcp", mcpId: "beta" }),
      createKey(database.pool, { role: "operator", principal: "olga" }),
    ]);
    const onA = client(addressA, olga.token);
    const onB = client(addressB, olga.token);

    const everythingOnB: Watch = watch(onB);
    const betaOnA: Watch = watch(onA, { mcpId: "beta" });
    closers.push(() => everythingOnB.cancel(), () => betaOnA.cancel());
    await Promise.all([everythingOnB.live, betaOnA.live]);
    // Each replica holds the shared lock on its tail connection, and counts its own watcher.
    const { rows } = await database.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND mode = 'ShareLock'
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [WATCHING_LOCK.key1, WATCHING_LOCK.key2],
    );
    expect(rows[0]!.n).to.equal(2);
    expect((await onA.getStats({})).ingest!.openWatchers).to.equal(1);
    expect((await onB.getStats({})).ingest!.openWatchers).to.equal(1);

    // Through A: the typed client's stream.
    const spoolDir = path.join(dir, "spool");
    const reporter: Reporter = createReporter({ address: addressA, apiKey: alpha.token, mcpId: "alpha", spoolDir });
    closers.push(() => reporter.close(5_000));
    const fromA = [reporter.started("across", { requestType: "translate" }).eventId, reporter.progress("across", { percent: 50 }).eventId, reporter.completed("across").eventId];
    expect(await reporter.flush(10_000)).to.equal(true);
    // Through B: ReportInteractions.
    const betaOnB = client(addressB, beta.token);
    const fromB = [event(EventKind.STARTED, "across", Date.now()), event(EventKind.FAILED, "across", Date.now() + 1)];
    const { acks } = await betaOnB.reportInteractions({ events: fromB });
    expect(acks.map((a) => a.status)).to.deep.equal([AckStatus.STORED, AckStatus.STORED]);

    const lastB = fromB.at(-1)!.eventId;
    await everythingOnB.until((e) => e.event!.eventId === lastB, "B's watcher sees both replicas' events", 15_000);
    expect(everythingOnB.events.map((e) => `${e.mcpId} ${e.event!.eventId}`)).to.have.members([
      ...fromA.map((id) => `alpha ${id}`),
      ...fromB.map((e) => `beta ${e.eventId}`),
    ]);
    const seenOnA = await betaOnA.until((e) => e.event!.eventId === lastB, "A's watcher sees B's events", 15_000);
    expect(seenOnA.map((e) => e.event!.eventId)).to.deep.equal(fromB.map((e) => e.eventId));
  });
});
