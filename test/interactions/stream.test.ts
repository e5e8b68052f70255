/**
 * The StreamInteractions protocol over a real server and database.
 */
import { expect } from "chai";
import { Status } from "nice-grpc";
import { create, fromBinary } from "@bufbuild/protobuf";
import { EventKind, EventMetadataSchema, InteractionEventSchema } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";
import { event } from "./events.js";
import { acksOf, openRawStream, type RawStream } from "./stream-client.js";

describe("StreamInteractions", () => {
  let server: TestCoordinator;
  let mcpToken: string;
  const streams: RawStream[] = [];

  before(async () => {
    server = await startTestCoordinator({}, { authCacheTtlMs: 200, ingestLimits: { keyRecheckMs: 200 } });
    mcpToken = (await createKey(server.coordinator.pool, { role: "mcp", mcpId: "search-mcp" })).token;
  });
  afterEach(() => {
    for (const stream of streams.splice(0)) stream.dispose();
  });
  after(async () => {
    await server.stop();
  });

  function open(token = mcpToken): RawStream {
    const stream = openRawStream(server.address, token);
    streams.push(stream);
    return stream;
  }

  async function count(sql: string, params: unknown[] = []): Promise<number> {
    const { rows } = await server.coordinator.pool.query(sql, params);
    return rows[0].n as number;
  }

  it("welcomes, stores, acks STORED / DUPLICATE / REJECTED per event, and ends OK after half-close", async () => {
    const stream = open();
    stream.send({ frame: { case: "hello", value: { instanceId: "test-1", clientVersion: "test/0", maxInFlight: 50 } } });
    const welcome = await stream.waitFor((f) => f.frame.case === "welcome");
    expect(welcome.frame.case === "welcome" && welcome.frame.value.mcpId).to.equal("search-mcp");
    expect(welcome.frame.case === "welcome" && welcome.frame.value.maxInFlight).to.equal(50);

    const started = event(EventKind.STARTED, "i-1", Date.now());
    const invalid = event(EventKind.COMPLETED, "i-1", Date.now() + 3_600_000); // an hour ahead
    stream.send({ frame: { case: "event", value: { ...started, seq: 1n } } });
    stream.send({ frame: { case: "event", value: { ...invalid, seq: 2n } } });
    stream.send({ frame: { case: "event", value: { ...started, seq: 3n } } }); // resend: same event_id
    stream.close();
    expect(await stream.ended).to.deep.equal({ code: Status.OK, details: "" });

    const acks = acksOf(stream).sort((a, b) => Number(a.seq - b.seq));
    expect(acks.map((a) => AckStatus[a.status])).to.deep.equal(["STORED", "REJECTED", "DUPLICATE"]);
    expect(acks[1]!.reason).to.contain("occurred_at");
    const last = stream.received.filter((f) => f.frame.case === "acks").at(-1)!;
    expect(last.frame.case === "acks" && last.frame.value.cumulativeSeq).to.equal(3n);
    expect(await count("SELECT count(*)::int AS n FROM interaction_events WHERE mcp_id = 'search-mcp'")).to.equal(1);
  });

  it("stores each event as sent, with the hello's metadata filled into events that lack it", async () => {
    const stream = open();
    stream.send({ frame: { case: "hello", value: { metadata: { environment: "prod", region: "eu" } } } });
    await stream.waitFor((f) => f.frame.case === "welcome");
    const bare = event(EventKind.STARTED, "meta-1", Date.now());
    const own = { ...event(EventKind.STARTED, "meta-2", Date.now()), metadata: create(EventMetadataSchema, { environment: "dev", region: "us" }) };
    stream.send({ frame: { case: "event", value: { ...bare, seq: 1n } } });
    stream.send({ frame: { case: "event", value: { ...own, seq: 2n } } });
    stream.close();
    expect((await stream.ended).code).to.equal(Status.OK);
    const { rows } = await server.coordinator.pool.query<{ interaction_id: string; payload: Buffer }>(
      "SELECT interaction_id, payload FROM interaction_events WHERE interaction_id IN ('meta-1', 'meta-2') ORDER BY interaction_id",
    );
    const stored = rows.map((row) => fromBinary(InteractionEventSchema, row.payload));
    expect(stored.map((e) => [e.metadata?.environment, e.metadata?.region])).to.deep.equal([
      ["prod", "eu"],
      ["dev", "us"],
    ]);
    expect(stored[1]!.eventId).to.equal(own.eventId);
  });

  it("ends with FAILED_PRECONDITION when the first frame is not hello", async () => {
    const stream = open();
    stream.send({ frame: { case: "event", value: { ...event(EventKind.STARTED, "x", Date.now()), seq: 1n } } });
    const end = await stream.ended;
    expect(Status[end.code]).to.equal("FAILED_PRECONDITION");
    expect(end.details).to.contain("hello");
  });

  it("refuses a hello for another MCP, and a seq gap", async () => {
    const other = open();
    other.send({ frame: { case: "hello", value: { mcpId: "billing-mcp" } } });
    expect(Status[(await other.ended).code]).to.equal("PERMISSION_DENIED");

    const gap = open();
    gap.send({ frame: { case: "hello", value: {} } });
    gap.send({ frame: { case: "event", value: { ...event(EventKind.STARTED, "g", Date.now()), seq: 2n } } });
    const end = await gap.ended;
    expect(Status[end.code]).to.equal("INVALID_ARGUMENT");
    expect(end.details).to.contain("seq: expected 1, got 2");
  });

  it("ends with RESOURCE_EXHAUSTED when the client exceeds its window", async () => {
    const stream = open();
    stream.send({ frame: { case: "hello", value: { maxInFlight: 2 } } });
    await stream.waitFor((f) => f.frame.case === "welcome");
    for (let seq = 1n; seq <= 50n; seq++) {
      stream.send({ frame: { case: "event", value: { ...event(EventKind.PROGRESS, "w", Date.now()), seq } } });
    }
    const end = await stream.ended;
    expect(Status[end.code]).to.equal("RESOURCE_EXHAUSTED");
    expect(end.details).to.contain("max_in_flight=2");
  });

  it("ends an open stream with UNAUTHENTICATED soon after its key is revoked", async () => {
    const { key, token } = await createKey(server.coordinator.pool, { role: "mcp", mcpId: "revoked-mcp" });
    const stream = open(token);
    stream.send({ frame: { case: "hello", value: {} } });
    await stream.waitFor((f) => f.frame.case === "welcome");
    await server.coordinator.pool.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1", [key.id]);
    const end = await stream.ended;
    expect(Status[end.code]).to.equal("UNAUTHENTICATED");
    expect(end.details).to.contain("revoked");
  });

  it("records the connection for ListMcps while the stream is open", async () => {
    const stream = open();
    stream.send({ frame: { case: "hello", value: { instanceId: "host-7/pid-1" } } });
    const welcome = await stream.waitFor((f) => f.frame.case === "welcome");
    const streamId = welcome.frame.case === "welcome" ? welcome.frame.value.streamId : "";
    expect(await count("SELECT count(*)::int AS n FROM mcp_connections WHERE stream_id = $1", [streamId])).to.equal(1);
    stream.close();
    await stream.ended;
    await waitFor(async () => (await count("SELECT count(*)::int AS n FROM mcp_connections WHERE stream_id = $1", [streamId])) === 0);
  });
});
