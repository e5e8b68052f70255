/**
 * The Prometheus endpoint of a real coordinator on a real database: what it reports after events
 * were ingested and decisions made, its other paths, and that it stops with the coordinator.
 */
import { create } from "@bufbuild/protobuf";
import { expect } from "chai";
import { createServer } from "node:net";
import type { Channel } from "nice-grpc";
import { CreateDecisionRequestSchema } from "../../gen/coordinator/v1/decision_commands_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";
import { event } from "../interactions/events.js";
import { acksOf, openRawStream, type RawStream } from "../interactions/stream-client.js";
import { parseExposition, type Exposition } from "./exposition.js";

describe("Prometheus metrics", function () {
  this.timeout(30_000);
  let server: TestCoordinator;
  let stopped = false;
  let stream: RawStream;
  const channels: Channel[] = [];
  const streams = new AbortController();

  const url = (path: string) => `http://127.0.0.1:${server.coordinator.metricsPort}${path}`;
  async function scrape(): Promise<Exposition> {
    const response = await fetch(url("/metrics"));
    expect(response.status).to.equal(200);
    return parseExposition(await response.text());
  }

  // Everything is set up before the first scrape: decision counts are cached for a few seconds.
  before(async () => {
    server = await startTestCoordinator({ metricsListen: "127.0.0.1:0" });
    const pool = server.coordinator.pool;

    // Ingest: 2 stored + 1 rejected, then a resend (duplicate), through ReportInteractions...
    const mcpToken = (await createKey(pool, { role: "mcp", mcpId: "metrics-mcp" })).token;
    const reporting = clientFor(InteractionService, server.address, mcpToken);
    channels.push(reporting.channel);
    const good = [event(EventKind.STARTED, "m-1", Date.now()), event(EventKind.COMPLETED, "m-1", Date.now())];
    const bad = { ...event(EventKind.PROGRESS, "m-1", Date.now()), eventId: "" };
    const first = await reporting.client.reportInteractions({ events: [good[0]!, bad, good[1]!] });
    expect(first.acks.map((a) => AckStatus[a.status])).to.deep.equal(["STORED", "REJECTED", "STORED"]);
    const again = await reporting.client.reportInteractions({ events: [good[0]!] });
    expect(again.acks.map((a) => AckStatus[a.status])).to.deep.equal(["DUPLICATE"]);
    // ...and one more stored on a stream left open.
    stream = openRawStream(server.address, mcpToken);
    stream.send({ frame: { case: "hello", value: { instanceId: "metrics-test", clientVersion: "test/0" } } });
    await stream.waitFor((f) => f.frame.case === "welcome");
    stream.send({ frame: { case: "event", value: { ...event(EventKind.STARTED, "m-2", Date.now()), seq: 1n } } });
    await waitFor(() => acksOf(stream).length === 1, { message: "the stream's ack" });

    // Decisions: 2 pending (one awaited), 1 completed, 1 cancelled; one watcher.
    const flow = clientFor(HumanLoopService, server.address, (await createKey(pool, { role: "workflow", principal: "metrics" })).token);
    const operator = clientFor(HumanLoopService, server.address, (await createKey(pool, { role: "operator", principal: "ops" })).token);
    channels.push(flow.channel, operator.channel);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const request = create(CreateDecisionRequestSchema, { requestKey: `metrics-${i}`, workflowId: "metrics", title: "Go?", spec: { kind: { case: "confirmation", value: {} } } });
      ids.push((await flow.client.createDecision(request)).decision!.id);
    }
    await operator.client.respond({ decisionId: ids[0]!, response: { action: ResponseAction.ACCEPT } });
    await flow.client.cancelDecision({ decisionId: ids[1]!, reason: "not needed" });
    const feed = server.coordinator.humanLoop.feed;
    expect(feed.subscriberCount).to.equal(0);
    void (async () => {
      for await (const _ of flow.client.awaitDecision({ decisionId: ids[2]! }, { signal: streams.signal }));
    })().catch(() => undefined);
    void (async () => {
      for await (const _ of operator.client.watchDecisions({ afterRevision: 0n }, { signal: streams.signal }));
    })().catch(() => undefined);
    await waitFor(() => feed.subscriberCount === 2, { message: "await and watch streams subscribed" });

    // One live tail of stored events.
    const reader = clientFor(InteractionService, server.address, (await createKey(pool, { role: "operator", principal: "tail" })).token);
    channels.push(reader.channel);
    void (async () => {
      for await (const _ of reader.client.watchInteractions({}, { signal: streams.signal }));
    })().catch(() => undefined);
    await waitFor(() => server.coordinator.tail.openWatchers === 1, { message: "the live tail open" });
  });

  after(async () => {
    streams.abort();
    stream?.dispose();
    for (const channel of channels) channel.close();
    if (!stopped) await server?.stop();
  });

  it("counts received and acked events, the open stream, and the writer's queue", async () => {
    const metrics = await scrape();
    expect(metrics.value("mcpc_ingest_events_received_total")).to.equal(5);
    expect(metrics.value("mcpc_ingest_events_acked_total", { status: "stored" })).to.equal(3);
    expect(metrics.value("mcpc_ingest_events_acked_total", { status: "duplicate" })).to.equal(1);
    expect(metrics.value("mcpc_ingest_events_acked_total", { status: "rejected" })).to.equal(1);
    expect(metrics.value("mcpc_ingest_streams_open")).to.equal(1);
    expect(metrics.value("mcpc_writer_queued_events")).to.equal(0);
    expect(metrics.value("mcpc_writer_in_flight_events")).to.equal(0);
    expect(metrics.value("mcpc_writer_failed_attempts_total")).to.equal(0);
  });

  it("observes every commit once: batch sizes, commit time and ack latency", async () => {
    const metrics = await scrape();
    const commits = metrics.value("mcpc_writer_batch_size_count");
    // Four events went through the writer (3 stored, 1 duplicate), in at least three statements
    // (the three calls waited for each other's acks).
    expect(metrics.value("mcpc_writer_batch_size_sum")).to.equal(4);
    expect(commits).to.be.within(3, 4);
    expect(metrics.value("mcpc_writer_batch_size_bucket", { le: "+Inf" })).to.equal(commits);
    expect(metrics.value("mcpc_writer_commit_duration_seconds_count")).to.equal(commits);
    expect(metrics.value("mcpc_ingest_ack_latency_max_seconds_count")).to.equal(commits);
    const slowest = metrics.value("mcpc_ingest_ack_latency_max_seconds_sum");
    const total = metrics.value("mcpc_ingest_ack_latency_seconds_total");
    // Each event's latency is at most its batch's slowest; all of it took well under 10 s.
    expect(total).to.be.at.least(0).and.at.most(slowest * 4 + 1e-9);
    expect(slowest).to.be.below(10);
    const buckets = metrics.samples.filter((s) => s.name === "mcpc_writer_batch_size_bucket");
    const counts = buckets.map((s) => s.value);
    expect([...counts].sort((a, b) => a - b), "cumulative buckets").to.deep.equal(counts);
  });

  it("reports decisions by status, open decision and interaction streams, and the pool", async () => {
    const metrics = await scrape();
    expect(metrics.value("mcpc_decisions", { status: "pending" })).to.equal(2);
    expect(metrics.value("mcpc_decisions", { status: "completed" })).to.equal(1);
    expect(metrics.value("mcpc_decisions", { status: "cancelled" })).to.equal(1);
    expect(metrics.value("mcpc_decisions", { status: "expired" })).to.equal(0);
    expect(metrics.value("mcpc_decision_streams_open", { kind: "await" })).to.equal(1);
    expect(metrics.value("mcpc_decision_streams_open", { kind: "watch" })).to.equal(1);
    expect(metrics.value("mcpc_interaction_watchers_open")).to.equal(1);
    expect(metrics.value("mcpc_interaction_watchers_dropped_total")).to.equal(0);

    expect(metrics.value("mcpc_db_pool_max_connections")).to.equal(server.config.dbPoolSize);
    const busy = metrics.value("mcpc_db_pool_connections", { state: "busy" });
    const idle = metrics.value("mcpc_db_pool_connections", { state: "idle" });
    // The decision feed holds its LISTEN connection for good.
    expect(busy).to.be.at.least(1);
    expect(busy + idle).to.be.at.most(server.config.dbPoolSize);
    expect(metrics.value("mcpc_db_pool_waiting_requests")).to.equal(0);
  });

  it("gives every metric of its own HELP and a type (counters end in _total), next to the process metrics", async () => {
    const response = await fetch(url("/metrics"));
    expect(response.headers.get("content-type")).to.equal("text/plain; version=0.0.4; charset=utf-8");
    const metrics = parseExposition(await response.text());
    const own = [...metrics.types.keys()].filter((name) => name.startsWith("mcpc_"));
    expect(own).to.include.members([
      "mcpc_ingest_events_received_total",
      "mcpc_ingest_events_acked_total",
      "mcpc_ingest_streams_open",
      "mcpc_writer_batch_size",
      "mcpc_ingest_ack_latency_max_seconds",
      "mcpc_decisions",
      "mcpc_db_pool_connections",
    ]);
    for (const name of own) {
      expect(metrics.helps.get(name), `HELP of ${name}`).to.have.length.above(10);
      if (metrics.types.get(name) === "counter") expect(name).to.match(/_total$/);
    }
    expect(metrics.types.get("mcpc_writer_batch_size")).to.equal("histogram");
    expect(metrics.types.get("mcpc_decisions")).to.equal("gauge");
    expect(metrics.value("mcpc_build_info")).to.equal(1);
    expect(metrics.types.get("process_cpu_seconds_total")).to.equal("counter");
    expect(metrics.value("process_resident_memory_bytes")).to.be.above(0);
  });

  it("answers 404 on other paths and 405 for other methods", async () => {
    const other = await fetch(url("/"));
    expect(other.status).to.equal(404);
    await other.text();
    const post = await fetch(url("/metrics"), { method: "POST", body: "x" });
    expect(post.status).to.equal(405);
    expect(post.headers.get("allow")).to.equal("GET, HEAD");
    await post.text();
    const withQuery = await fetch(url("/metrics?x=1"));
    expect(withQuery.status).to.equal(200);
    await withQuery.text();
  });

  it("stops with the coordinator and releases its port", async () => {
    const port = server.coordinator.metricsPort!;
    streams.abort();
    stream.dispose();
    await server.stop();
    stopped = true;
    const refused = await fetch(`http://127.0.0.1:${port}/metrics`).then(() => "answered", () => "refused");
    expect(refused).to.equal("refused");
    const probe = createServer();
    await new Promise<void>((resolve, reject) => probe.once("error", reject).listen(port, "127.0.0.1", resolve));
    await new Promise((resolve) => probe.close(resolve));
  });
});

describe("Prometheus metrics switched off", () => {
  it("starts no metrics server without --metrics-listen", async () => {
    const server = await startTestCoordinator();
    try {
      expect(server.config.metricsListen).to.equal(undefined);
      expect(server.coordinator.metricsPort).to.equal(undefined);
    } finally {
      await server.stop();
    }
  });
});
