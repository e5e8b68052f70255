/**
 * `mcp-coordinator interactions ...` as an operator runs it: a real CLI process talking gRPC to a
 * coordinator that two MCPs reported to. list (table, JSON, filters, paging), show (events in the
 * order they happened, an ambiguous id), metrics (after the rollup job ran), flag and key
 * refusals, and tail: its line format, the UNIMPLEMENTED answer of a server without
 * WatchInteractions, and reconnecting while the coordinator cannot be reached.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createServer } from "node:net";
import { expect } from "chai";
import { EventKind, InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionStatus, StoredEventSchema } from "../../gen/coordinator/v1/interaction_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { ThroughputPointSchema } from "../../gen/coordinator/v1/performance_metrics_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { eventDetail, tailLine } from "../../src/cli/interaction-format.js";
import { checkAction, listRequest, metricsRequest, tailRequest, type InteractionsFlags } from "../../src/cli/interaction-requests.js";
import { throughputChart } from "../../src/cli/metrics-format.js";
import { UsageError } from "../../src/cli/usage-error.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";
import { event } from "../interactions/events.js";
import { runCli, startCli } from "./cli-process.js";

const MINUTE = 60_000;

describe("interactions command", function () {
  this.timeout(90_000);
  let server: TestCoordinator;
  let env: Record<string, string>;
  let workflowKey: string;
  const channels: { close(): void }[] = [];
  const t0 = Date.now() - 30 * MINUTE;

  function cli(args: string[], extraEnv: Record<string, string> = {}) {
    return runCli(["interactions", "--address", server.address, ...args], { ...env, ...extraEnv });
  }

  async function report(mcpId: string, events: InteractionEvent[]) {
    const key = await createKey(server.coordinator.pool, { role: "mcp", mcpId });
    const { client, channel } = clientFor(InteractionService, server.address, key.token);
    channels.push(channel);
    const { acks } = await client.reportInteractions({ events });
    expect(acks.map((a) => AckStatus[a.status])).to.deep.equal(events.map(() => "STORED"));
  }

  before(async () => {
    // The test runs the rollup job itself (see the metrics test).
    server = await startTestCoordinator({}, { rollups: { intervalMs: 3_600_000 } });
    const pool = server.coordinator.pool;
    env = { MCPC_API_KEY: (await createKey(pool, { role: "operator", principal: "olga" })).token };
    workflowKey = (await createKey(pool, { role: "workflow", principal: "ci" })).token;
    // The completion arrives first: show must still print the events in the order they happened.
    await report("alpha", [event(EventKind.COMPLETED, "cli-ok", t0 + 3_000)]);
    await report("alpha", [event(EventKind.STARTED, "cli-ok", t0), event(EventKind.PROGRESS, "cli-ok", t0 + 1_000)]);
    await report("alpha", [event(EventKind.STARTED, "cli-fail", t0 + 5_000), event(EventKind.FAILED, "cli-fail", t0 + 6_000)]);
    await report("beta", [
      event(EventKind.STARTED, "cli-running", t0 + 7_000, { sessionId: "s-9" }),
      event(EventKind.PROGRESS, "cli-running", t0 + 8_000),
      ...[0, 1, 2, 3, 4].map((i) => event(EventKind.STARTED, `cli-page-${i}`, t0 + 9_000 + i)),
    ]);
  });
  after(async () => {
    for (const channel of channels) channel.close();
    await server.stop();
  });

  it("lists interactions as a table and as protobuf JSON", async () => {
    const listed = await cli(["list"]);
    expect(listed.code, listed.stderr).to.equal(0);
    const lines = listed.stdout.trimEnd().split("\n");
    expect(lines[0]).to.match(/^first_seen\s+mcp\s+interaction\s+status\s+request_type\s+took\s+events\s+error$/);
    expect(lines).to.have.length(1 + 8);
    expect(lines.find((l) => l.includes("cli-ok"))).to.match(/alpha\s+cli-ok\s+completed\s+search\s+1\.50s\s+3\s+-$/);
    expect(lines.find((l) => l.includes("cli-fail"))).to.match(/alpha\s+cli-fail\s+failed\s+search\s+1\.00s\s+2\s+E42$/);
    expect(lines.find((l) => l.includes("cli-running"))).to.match(/beta\s+cli-running\s+in_progress/);
    expect(listed.stderr).to.equal("");

    const json = await cli(["list", "--json"]);
    const parsed = JSON.parse(json.stdout) as { interactions: { interactionId: string; status: string; eventCount: number }[]; nextPageToken?: string };
    expect(parsed.interactions).to.have.length(8);
    expect(parsed.interactions.find((i) => i.interactionId === "cli-ok")).to.include({ status: "INTERACTION_STATUS_COMPLETED", eventCount: 3 });
    expect(parsed.nextPageToken).to.equal(undefined);
  });

  it("filters by status, MCP, success, session and time", async () => {
    const ids = async (args: string[]) => {
      const { code, stdout, stderr } = await cli(["list", "--json", ...args]);
      expect(code, stderr).to.equal(0);
      return (JSON.parse(stdout) as { interactions?: { interactionId: string }[] }).interactions?.map((i) => i.interactionId).sort() ?? [];
    };
    expect(await ids(["--status", "failed"])).to.deep.equal(["cli-fail"]);
    expect(await ids(["--mcp-id", "alpha", "--success", "true"])).to.deep.equal(["cli-ok"]);
    expect(await ids(["--session", "s-9", "--status", "in-progress"])).to.deep.equal(["cli-running"]);
    // first_seen_at is the coordinator's clock: everything was stored within the last hour.
    expect(await ids(["--since", "1h", "--mcp-id", "alpha"])).to.deep.equal(["cli-fail", "cli-ok"]);
    const empty = await cli(["list", "--until", "1h", "--request-type", "search"]);
    expect(empty.stdout).to.equal("no interactions\n");
  });

  it("pages with --limit and --page-token, each interaction once", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 5; page++) {
      const listed = await cli(["list", "--limit", "3", ...(token ? ["--page-token", token] : [])]);
      expect(listed.code, listed.stderr).to.equal(0);
      const rows = listed.stdout.trimEnd().split("\n").slice(1);
      seen.push(...rows.map((r) => r.split(/\s+/)[2]!));
      token = /^more: --page-token (\S+)$/m.exec(listed.stderr)?.[1];
      if (!token) break;
      expect(rows).to.have.length(3);
    }
    expect(token, "three pages").to.equal(undefined);
    expect(seen).to.have.length(8);
    expect(new Set(seen).size).to.equal(8);
    const bad = await cli(["list", "--page-token", "garbage"]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain("INVALID_ARGUMENT: page_token");
  });

  it("shows an interaction: the summary, then its events in the order they happened", async () => {
    const shown = await cli(["show", "cli-ok"]);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.stdout).to.match(/^field\s+value\ninteraction_id\s+cli-ok\nmcp_id\s+alpha\n/);
    expect(shown.stdout).to.match(/processing_time\s+1\.50s/).and.match(/success\s+yes/);
    const events = shown.stdout.slice(shown.stdout.indexOf("events (3, in the order they happened):"));
    const kinds = events.split("\n").slice(2, 5).map((l) => l.split(/\s+/)[1]);
    expect(kinds).to.deep.equal(["started", "progress", "completed"]);
    expect(events).to.contain("request_type search, user").and.contain(`step-${t0 + 1_000}`).and.contain("success, took 1.50s");

    const json = await cli(["show", "cli-fail", "--json"]);
    const parsed = JSON.parse(json.stdout) as { interaction: { errorCode: string }; events: { event: { kind: string } }[] };
    expect(parsed.interaction.errorCode).to.equal("E42");
    expect(parsed.events.map((e) => e.event.kind)).to.deep.equal(["EVENT_KIND_STARTED", "EVENT_KIND_FAILED"]);
  });

  it("show: NOT_FOUND, and an id two MCPs used needs --mcp-id", async () => {
    const missing = await cli(["show", "nope"]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain("NOT_FOUND");
    await report("beta", [event(EventKind.STARTED, "cli-ok", t0 + 20_000)]);
    const ambiguous = await cli(["show", "cli-ok"]);
    expect(ambiguous.code).to.equal(1);
    expect(ambiguous.stderr).to.contain("FAILED_PRECONDITION").and.contain("(pass --mcp-id <id>)").and.not.contain("--help");
    const chosen = await cli(["show", "cli-ok", "--mcp-id", "beta"]);
    expect(chosen.code, chosen.stderr).to.equal(0);
    expect(chosen.stdout).to.match(/mcp_id\s+beta/).and.match(/events \(1,/);
  });

  it("prints performance metrics once the rollups caught up", async () => {
    // Retried while the start-up run still holds the lock; a run that ran saw every acked event.
    let ran = false;
    while (!ran) ran = (await server.coordinator.rollups.runOnce()).ran;
    const shown = await cli(["metrics"]);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.stdout).to.match(/^period: \S+ to \S+ \(24h0[01]m\)\n/);
    expect(shown.stdout).to.contain("finished: 2 (1 succeeded, 1 failed); success rate 50.0%, error rate 50.0%");
    expect(shown.stdout).to.match(/processing time \(2 with a time\): avg 1\.2\ds {2}min 1\.00s {2}p50 /);
    expect(shown.stdout).to.match(/per MCP:\nmcp\s+count\s+success\s+errors\s+avg\s+p50\s+p95\s+p99\s+max\nalpha\s+2\s+50\.0%\s+50\.0%/);
    expect(shown.stdout).to.match(/top error codes:\nerror_code\s+count\s+last_seen\nE42\s+1\s+\S+Z\n/);
    expect(shown.stdout).to.contain("throughput (per hour, UTC; # succeeded, x failed):");
    const chart = shown.stdout.slice(shown.stdout.indexOf("throughput"));
    expect(chart.split("\n").filter((l) => /^\d{4}-\d\d-\d\d \d\d:00 .*[#x]$/.test(l))).to.have.length.within(1, 2);
    expect(Math.max(...shown.stdout.split("\n").map((l) => l.length))).to.be.at.most(100);

    const json = await cli(["metrics", "--json", "--window", "1h", "--mcp-id", "alpha"], { MCPC_API_KEY: workflowKey });
    expect(json.code, json.stderr).to.equal(0);
    const parsed = JSON.parse(json.stdout) as { summary: { count: string; failureCount: string }; throughput: unknown[]; perMcp: { mcpId: string }[] };
    expect(parsed.summary).to.include({ count: "2", failureCount: "1" });
    expect(parsed.perMcp.map((m) => m.mcpId)).to.deep.equal(["alpha"]);
    const range = await cli(["metrics", "--since", new Date(t0 - MINUTE).toISOString(), "--until", "1m", "--mcp-id", "beta"]);
    expect(range.code, range.stderr).to.equal(0);
    expect(range.stdout).to.contain("finished: 0 (0 succeeded, 0 failed)\n").and.contain("none finished");
  });

  it("refuses bad flags naming the flag", () => {
    const refusal = (build: () => unknown) => {
      try {
        build();
      } catch (error) {
        expect(error).to.be.instanceOf(UsageError);
        return (error as Error).message;
      }
      return expect.fail("no usage error");
    };
    const list = (flags: InteractionsFlags) => refusal(() => listRequest(flags));
    expect(list({ status: ["failed", "started"] })).to.contain("--status takes one status");
    expect(list({ limit: "0" })).to.contain("--limit must be a whole number above 0");
    expect(list({ since: "yesterday" })).to.contain('--since must be a duration (24h, 30m, 7d) or an ISO 8601 time (2027-01-01T00:00:00Z); got "yesterday"');
    expect(list({ since: "1h", until: "2h" })).to.contain("--since must be before --until");
    expect(list({ success: "maybe" })).to.equal('--success must be true or false; got "maybe"');
    expect(refusal(() => metricsRequest({ window: "2h" }))).to.equal('--window must be one of 1h, 24h, 7d, 30d; got "2h"');
    expect(refusal(() => metricsRequest({ window: "1h", since: "2h" }))).to.contain("--window or --since/--until, not both");
    expect(refusal(() => metricsRequest({ until: "2h" }))).to.contain("--until needs --since");
    expect(refusal(() => tailRequest({ kind: ["started,stopped"] }))).to.contain('--kind must be one or more of started, progress, completed, failed; got "stopped"');
    expect(refusal(() => checkAction("show", ["x"], { status: ["failed"], json: true }))).to.contain("interactions show does not take --status");
    expect(refusal(() => checkAction("show", [], {}))).to.equal("interactions show takes exactly one interaction id");
    expect(refusal(() => checkAction("frobnicate", [], {}))).to.equal('interactions needs list, show, metrics or tail; got "frobnicate"');
    // What the flags build when they are right.
    const now = Date.UTC(2026, 10, 22, 12);
    const request = listRequest({ status: ["in-progress"], since: "2h", success: "false", limit: "5" }, now);
    expect(request).to.deep.include({ status: InteractionStatus.IN_PROGRESS, success: false, pageSize: 5 });
    expect(Number(request.timeRange!.startTime!.seconds) * 1000).to.equal(now - 2 * 3_600_000);
    expect(metricsRequest({ since: "2026-11-20" }, now).period).to.deep.include({ case: "timeRange" });
    expect(tailRequest({ kind: ["failed", "completed,failed"] }).kinds).to.deep.equal([EventKind.FAILED, EventKind.COMPLETED]);
  });

  it("exits 2 on a bad flag before connecting", async () => {
    // A closed address: neither may get as far as connecting.
    const [badValue, unknown] = await Promise.all([
      runCli(["interactions", "--address", "127.0.0.1:1", "list", "--status", "done"], env),
      runCli(["interactions", "--address", "127.0.0.1:1", "list", "--bogus"], env),
    ]);
    expect(badValue.code).to.equal(2);
    expect(badValue.stderr).to.contain('--status must be one of started, in_progress, completed, failed; got "done"').and.contain("--help");
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain("'--bogus'");
  });

  it("needs a key, and says what a refusal means", async () => {
    const noKey = await cli(["list"], { MCPC_API_KEY: "" });
    expect(noKey.code).to.equal(2);
    expect(noKey.stderr).to.contain("--api-key <key> or MCPC_API_KEY");
    const refused = await cli(["list"], { MCPC_API_KEY: workflowKey });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain("PERMISSION_DENIED").and.contain("needs an operator or admin key").and.not.contain(workflowKey);
    const badKey = await cli(["metrics", "--api-key", "mcpc_wrong"]);
    expect(badKey.code).to.equal(1);
    expect(badKey.stderr).to.contain("UNAUTHENTICATED").and.not.contain("mcpc_wrong");
  });

  it("tail: prints each stored event of the kinds asked for, as it is stored, until Ctrl-C", async () => {
    const session = startCli(["interactions", "tail", "--kind", "failed", "--mcp-id", "alpha", "--address", server.address], env);
    try {
      // The tail is live only once its stream's headers arrive: report until an event shows.
      let n = 0;
      await waitFor(
        async () => {
          n++;
          await report("alpha", [event(EventKind.STARTED, `tail-${n}`, Date.now()), event(EventKind.FAILED, `tail-${n}`, Date.now())]);
          return session.stdout().includes("  failed  ");
        },
        { timeoutMs: 15_000, message: "a tailed event" },
      ).catch((error: Error) => {
        throw new Error(`${error.message} (stdout: ${session.stdout()}; stderr: ${session.stderr()})`);
      });
      await report("beta", [event(EventKind.FAILED, "tail-beta", Date.now())]);
      await report("alpha", [event(EventKind.FAILED, "tail-last", Date.now())]);
      await session.expectOutput("tail-last");
      session.child.kill("SIGINT");
      expect(await session.exited()).to.equal(0);
      const lines = session.stdout().trim().split("\n");
      // Only alpha's failures: no STARTED line, nothing of beta.
      expect(lines.every((line) => / {2}alpha {2}tail-\S+ {2}failed /.test(line)), lines.join("\n")).to.equal(true);
    } finally {
      session.child.kill("SIGKILL");
    }
  });

  it("tail: keeps reconnecting while the coordinator cannot be reached, and stops on Ctrl-C", async () => {
    const closed = await closedPort();
    const session = startCli(["interactions", "tail", "--address", `127.0.0.1:${closed}`], env);
    try {
      await session.expectError("tail: UNAVAILABLE: cannot reach the coordinator");
      await session.expectError("reconnecting in 0.5s. A live tail does not replay: events stored while disconnected are missed");
      await session.expectError("reconnecting in 1.0s");
      session.child.kill("SIGINT");
      expect(await session.exited()).to.equal(0);
      expect(session.stdout()).to.equal("");
    } finally {
      session.child.kill("SIGKILL");
    }
  });

  it("tail: one line per event, with a short detail by kind", () => {
    const at = Date.UTC(2026, 10, 22, 10, 0, 0, 123);
    const stored = (e: InteractionEvent) => create(StoredEventSchema, { event: e, mcpId: "alpha" });
    expect(tailLine(stored(event(EventKind.STARTED, "i-1", at)))).to.equal("2026-11-22T10:00:00.123Z  alpha  i-1  started    request_type search, user u1\n");
    const progress = withDetail(EventKind.PROGRESS, at, { case: "progress", value: { percent: 42.5, step: "parsing", message: "page 3 of 7" } });
    expect(tailLine(stored(progress))).to.equal("2026-11-22T10:00:00.123Z  alpha  i-1  progress   42.5% parsing: page 3 of 7\n");
    const unsuccessful = withDetail(EventKind.COMPLETED, at, {
      case: "result",
      value: { success: false, errorCode: "LOW_CONFIDENCE", errorMessage: "below 0.2", processingTime: durationFromMs(250) },
    });
    expect(eventDetail(unsuccessful)).to.equal("unsuccessful LOW_CONFIDENCE: below 0.2, took 250ms");
    const failed = withDetail(EventKind.FAILED, at, {
      case: "error",
      value: { errorCode: "UPSTREAM_503", errorType: "upstream", message: "x".repeat(200), retryable: true },
    });
    const detail = eventDetail(failed);
    expect(detail).to.have.length(100).and.match(/^UPSTREAM_503: x+…$/);
    expect(tailLine(stored(create(InteractionEventSchema, { interactionId: "i-2", kind: EventKind.COMPLETED, occurredAt: timestampFromMs(at) })))).to.equal(
      "2026-11-22T10:00:00.123Z  alpha  i-2  completed\n",
    );
  });

  it("metrics: a 30-day throughput chart is drawn a day a line", () => {
    const start = Date.UTC(2026, 9, 1);
    const points = Array.from({ length: 720 }, (_, h) =>
      create(ThroughputPointSchema, { bucketStart: timestampFromMs(start + h * 3_600_000), count: BigInt(h % 24), failureCount: h % 24 === 23 ? 3n : 0n }),
    );
    const chart = throughputChart(points).trimEnd().split("\n");
    expect(chart[0]).to.equal("throughput (per 24 hours, UTC; # succeeded, x failed):");
    expect(chart).to.have.length(2 + 30);
    expect(chart[2]).to.equal(`2026-10-01 00:00    276       3  ${"#".repeat(40)}x`);
    expect(Math.max(...chart.map((l) => l.length))).to.be.at.most(80);
  });
});

function withDetail(kind: EventKind, at: number, detail: MessageInitShape<typeof InteractionEventSchema>["detail"]): InteractionEvent {
  return create(InteractionEventSchema, { eventId: "e", interactionId: "i-1", kind, occurredAt: timestampFromMs(at), detail });
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
