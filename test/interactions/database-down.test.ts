/**
 * When the database stays down, ingest acks nothing, and after the configured time ends streams
 * with UNAVAILABLE and a retry hint; old streams are rotated with Drain.
 */
import { expect } from "chai";
import { Status } from "nice-grpc";
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { adminPool, waitFor } from "../support/database.js";
import { event } from "./events.js";
import { acksOf, openRawStream, type RawStream } from "./stream-client.js";

describe("ingest when the database is down", () => {
  let server: TestCoordinator;
  const streams: RawStream[] = [];
  const channels: { close(): void }[] = [];
  before(async () => {
    // A long key cache: GetStats is still authorized while the database is unreachable.
    server = await startTestCoordinator({ unavailableAfterMs: 5_000, maxStreamAgeMs: 60_000 }, { authCacheTtlMs: 120_000 });
  });
  after(async () => {
    for (const stream of streams) stream.dispose();
    for (const channel of channels) channel.close();
    await adminPool().query(`ALTER DATABASE "${server.databaseName}" WITH ALLOW_CONNECTIONS true`);
    await server.stop();
  });

  it("acks nothing, shows the writer stopped in GetStats, and ends the stream with UNAVAILABLE after the configured time", async () => {
    const { token } = await createKey(server.coordinator.pool, { role: "mcp", mcpId: "patient-mcp" });
    const operator = await createKey(server.coordinator.pool, { role: "operator", principal: "sre" });
    const { client: stats, channel } = clientFor(InteractionService, server.address, operator.token);
    channels.push(channel);
    const healthy = await stats.getStats({});
    expect(healthy.ingest!.writerRunning).to.equal(true);
    expect(healthy.database).to.not.equal(undefined);
    const stream = openRawStream(server.address, token);
    streams.push(stream);
    stream.send({ frame: { case: "hello", value: {} } });
    await stream.waitFor((f) => f.frame.case === "welcome");

    await adminPool().query(`ALTER DATABASE "${server.databaseName}" WITH ALLOW_CONNECTIONS false`);
    await adminPool().query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [server.databaseName]);
    for (let seq = 1n; seq <= 5n; seq++) {
      stream.send({ frame: { case: "event", value: { ...event(EventKind.STARTED, `down-${seq}`, Date.now()), seq } } });
    }
    await waitFor(() => !server.coordinator.ingest.writer.stats().running, { timeoutMs: 5_000, message: "writer retrying" });
    const down = await stats.getStats({});
    expect(down.ingest!.writerRunning).to.equal(false);
    expect(down.ingest!.writerQueueDepth).to.be.greaterThan(0);
    expect(down.database, "no totals from an unreachable database").to.equal(undefined);
    const end = await stream.ended;
    expect(Status[end.code]).to.equal("UNAVAILABLE");
    expect(end.details).to.contain("database unavailable").and.contain("resend unacked events");
    expect(acksOf(stream)).to.have.length(0);
  });
});

describe("stream rotation", () => {
  let server: TestCoordinator;
  before(async () => {
    server = await startTestCoordinator({ maxStreamAgeMs: 300 });
  });
  after(async () => {
    await server.stop();
  });

  it("sends Drain to a stream older than the maximum age", async () => {
    const { token } = await createKey(server.coordinator.pool, { role: "mcp", mcpId: "old-mcp" });
    const stream = openRawStream(server.address, token);
    try {
      stream.send({ frame: { case: "hello", value: {} } });
      const drain = await stream.waitFor((f) => f.frame.case === "drain", 10_000);
      expect(drain.frame.case === "drain" && drain.frame.value.reason).to.match(/^rotation:/);
      stream.close();
      expect((await stream.ended).code).to.equal(Status.OK);
    } finally {
      stream.dispose();
    }
  });
});
