/**
 * The reporter against a real coordinator and database: exactly-once delivery, disabled mode,
 * track(), flush/close, dead letters, reconnect across a coordinator restart, replay after the
 * MCP process dies, and no handles left behind after close().
 */
import { fromBinary } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { EventKind, InteractionEventSchema } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { createReporter, type Reporter, type ReporterOptions } from "../../src/client/index.js";
import { silentLogger } from "../../src/client/logger.js";
import { Spool } from "../../src/client/spool.js";
import { waitFor } from "../support/database.js";
import { freePort } from "../support/ports.js";
import { createCoordinatorSite, type CoordinatorSite } from "./coordinator-on-database.js";

const CLIENT_INDEX = path.resolve("src/client/index.ts");

describe("reporter", function () {
  this.timeout(60_000);
  let site: CoordinatorSite;
  let token: string;
  let spoolDir: string;
  const reporters: Reporter[] = [];
  const mcpId = "reporter-test";

  before(async () => {
    site = await createCoordinatorSite();
    await site.start();
    ({ token } = await createKey(site.database.pool, { role: "mcp", mcpId }));
  });
  after(async () => {
    await site.dispose();
  });
  beforeEach(() => {
    spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpc-reporter-"));
  });
  afterEach(async () => {
    for (const reporter of reporters.splice(0)) await reporter.close(2_000);
    fs.rmSync(spoolDir, { recursive: true, force: true });
  });

  function reporter(extra: Partial<ReporterOptions> = {}): Reporter {
    const created = createReporter({ address: site.address, apiKey: token, mcpId, spoolDir, backoff: { initialMs: 50, maxMs: 500 }, ...extra });
    reporters.push(created);
    return created;
  }

  async function rows(where = "true", params: unknown[] = []): Promise<{ event_id: string; kind: number; payload: Buffer }[]> {
    const result = await site.database.pool.query(`SELECT event_id, kind, payload FROM interaction_events WHERE mcp_id = '${mcpId}' AND ${where}`, params);
    return result.rows;
  }

  async function countEvents(ids: string[]): Promise<number> {
    const result = await site.database.pool.query("SELECT count(*)::int AS n FROM interaction_events WHERE event_id = ANY($1)", [ids]);
    return result.rows[0].n;
  }

  it("delivers every event exactly once and says so in its counters", async () => {
    const r = reporter();
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const interaction = `exactly-once-${i}`;
      ids.push(r.started(interaction, { requestType: "translate", sessionId: "s1", attributes: { i } }).eventId);
      ids.push(r.progress(interaction, { percent: 50, step: "half" }).eventId);
      ids.push(r.completed(interaction, { outputSize: 10n, processingTimeMs: 12 }).eventId);
    }
    expect(new Set(ids).size).to.equal(300);
    expect(await r.flush(10_000)).to.equal(true);
    expect(await countEvents(ids)).to.equal(300);
    const stats = r.stats();
    expect(stats).to.include({ acked: 300, stored: 300, duplicates: 0, rejected: 0, queued: 0, inFlight: 0, spooled: 0, connected: true });
    const [row] = await rows("event_id = $1", [ids[2]]);
    const stored = fromBinary(InteractionEventSchema, row!.payload);
    expect(stored.kind).to.equal(EventKind.COMPLETED);
    expect(stored.detail.case).to.equal("result");
    if (stored.detail.case === "result") expect(durationMs(stored.detail.value.processingTime!)).to.equal(12);
  });

  it("with enabled: false, succeeds at everything and touches neither network nor disk", async () => {
    let connections = 0;
    const listener = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    const port = await freePort();
    await new Promise<void>((resolve) => listener.listen(port, "127.0.0.1", resolve));
    try {
      const dir = path.join(spoolDir, "never-created");
      const r = createReporter({ address: `127.0.0.1:${port}`, apiKey: "unused", enabled: false, spoolDir: dir });
      const { eventId } = r.started("x");
      expect(eventId).to.match(/^[0-9a-f-]{36}$/);
      r.progress("x");
      r.completed("x");
      r.failed("x", new Error("boom"));
      expect(await r.track("x", async () => 42)).to.equal(42);
      expect(await r.flush(100)).to.equal(true);
      await r.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(connections).to.equal(0);
      expect(fs.existsSync(dir)).to.equal(false);
      expect(r.stats().acked).to.equal(0);
      // A disabled reporter needs no address or key at all.
      expect(() => createReporter({ enabled: false } as ReporterOptions)).not.to.throw();
    } finally {
      listener.close();
    }
  });

  it("track() reports completion with processing time and resource usage, and returns fn's result", async () => {
    const r = reporter();
    const result = await r.track("track-ok", async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { answer: 42 };
    }, { started: { requestType: "compute" }, completed: (value) => ({ outputSize: BigInt(value.answer) }) });
    expect(result).to.deep.equal({ answer: 42 });
    expect(await r.flush(10_000)).to.equal(true);
    const events = (await rows("interaction_id = 'track-ok'")).map((row) => fromBinary(InteractionEventSchema, row.payload));
    expect(events.map((e) => e.kind).sort()).to.deep.equal([EventKind.STARTED, EventKind.COMPLETED]);
    const completed = events.find((e) => e.kind === EventKind.COMPLETED)!;
    if (completed.detail.case !== "result") throw new Error("no result detail");
    expect(durationMs(completed.detail.value.processingTime!)).to.be.within(25, 5_000);
    expect(completed.detail.value.outputSize).to.equal(42n);
    expect(completed.detail.value.resourceUsage!.memoryMb).to.be.greaterThan(1);
    expect(completed.detail.value.resourceUsage!.cpuPercent).to.be.at.least(0);
  });

  it("track() with callBound waits (at most that long) for its final event's ack", async () => {
    const r = reporter({ callBound: 5_000 });
    const connected: string[] = [];
    r.on("connected", (info) => connected.push(info.streamId));
    await r.track("bounded", () => "done");
    // No flush: the completion is already committed when track() returns.
    expect(await rows("interaction_id = 'bounded' AND kind = $1", [EventKind.COMPLETED])).to.have.length(1);
    expect(connected).to.have.length(1);
  });

  it("track() reports a failure and rethrows the MCP's own error unchanged", async () => {
    const r = reporter();
    class UpstreamError extends Error {
      override name = "UpstreamError";
      code = "UPSTREAM_503";
    }
    const thrown = new UpstreamError("upstream said no");
    let caught: unknown;
    try {
      await r.track("track-fail", () => {
        throw thrown;
      }, { failed: { retryable: true } });
    } catch (error) {
      caught = error;
    }
    expect(caught).to.equal(thrown);
    expect(await r.flush(10_000)).to.equal(true);
    const events = (await rows("interaction_id = 'track-fail'")).map((row) => fromBinary(InteractionEventSchema, row.payload));
    const failed = events.find((e) => e.kind === EventKind.FAILED)!;
    if (failed.detail.case !== "error") throw new Error("no error detail");
    expect(failed.detail.value).to.include({ errorType: "UpstreamError", errorCode: "UPSTREAM_503", message: "upstream said no", retryable: true });
    expect(failed.detail.value.processingTime).to.not.equal(undefined);
    expect(failed.detail.value.resourceUsage!.memoryMb).to.be.greaterThan(1);
  });

  it("never throws into the caller, even for arguments of the wrong type", async () => {
    const r = reporter();
    const errors: Error[] = [];
    r.on("error", (error) => errors.push(error));
    const receipt = r.started("bad-args", { inputSize: "lots" as unknown as bigint });
    expect(receipt.eventId).to.be.a("string");
    expect(r.stats().errors).to.equal(1);
    expect(errors).to.have.length(1);
    // Without an 'error' listener (EventEmitter would throw) and without a spool (nothing else
    // encodes the event before the stream does) too.
    const quiet = reporter({ spoolDir: false });
    expect(() => quiet.started("bad-args", { inputSize: "lots" as unknown as bigint })).not.to.throw();
    expect(quiet.stats().errors).to.equal(1);
    const ok = quiet.started("good-args").eventId;
    expect(await quiet.flush(10_000)).to.equal(true);
    expect(await countEvents([ok])).to.equal(1);
  });

  it("flush() waits for acks; close() flushes, releases the spool, and later calls are no-ops", async () => {
    const r = reporter();
    const ids = Array.from({ length: 50 }, (_, i) => r.started(`close-${i}`).eventId);
    await r.close(10_000);
    expect(await countEvents(ids)).to.equal(50);
    const spoolFile = path.join(spoolDir, `${mcpId}.spool`);
    expect(fs.existsSync(`${spoolFile}.lock`)).to.equal(false);
    const reopened = Spool.open(spoolDir, mcpId, { maxBytes: 1e6, maxAgeMs: 1e9, logger: silentLogger })!;
    expect(reopened.pending).to.deep.equal([]);
    expect(reopened.spool.path).to.equal(spoolFile);
    reopened.spool.close();
    const after = r.stats();
    const late = r.started("after-close");
    expect(late.eventId).to.be.a("string");
    expect(r.stats().acked).to.equal(after.acked);
    expect(r.stats().connected).to.equal(false);
    expect(await countEvents([late.eventId])).to.equal(0);
    expect(await r.flush(100)).to.equal(true);
  });

  it("sends a rejected event to the dead-letter file with its reason, and out of the spool", async () => {
    const r = reporter();
    const rejected: string[] = [];
    r.on("rejected", (info) => rejected.push(info.reason));
    const bad = r.started("from-the-future", { occurredAt: new Date(Date.now() + 3600_000) }).eventId;
    const good = r.started("from-now").eventId;
    expect(await r.flush(10_000)).to.equal(true);
    expect(r.stats()).to.include({ rejected: 1, stored: 1, spooled: 0 });
    expect(rejected).to.have.length(1);
    expect(rejected[0]).to.contain("occurred_at");
    expect(await countEvents([bad, good])).to.equal(1);
    const deadFile = path.join(spoolDir, `${mcpId}.spool.dead`);
    const lines = fs.readFileSync(deadFile, "utf8").trim().split("\n").map((line) => JSON.parse(line));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ eventId: bad });
    expect(lines[0].reason).to.contain("occurred_at");
    expect(lines[0].event.interactionId).to.equal("from-the-future");
  });

  it("reconnects after the coordinator restarts and resends what was not acked, exactly once", async () => {
    const r = reporter();
    const disconnects: string[] = [];
    const drains: string[] = [];
    r.on("disconnected", (info) => disconnects.push(`${info.code}: ${info.message}`));
    r.on("drain", (info) => drains.push(info.reason));
    const before = Array.from({ length: 20 }, (_, i) => r.started(`restart-a-${i}`).eventId);
    expect(await r.flush(10_000)).to.equal(true);

    await site.stop();
    await waitFor(() => !r.stats().connected, { message: "reporter notices the shutdown" });
    const during = Array.from({ length: 30 }, (_, i) => r.completed(`restart-b-${i}`).eventId);
    expect(await r.flush(300)).to.equal(false);
    expect(r.stats().spooled).to.equal(30);

    await site.start();
    expect(await r.flush(20_000)).to.equal(true);
    expect(await countEvents([...before, ...during])).to.equal(50);
    const stats = r.stats();
    expect(stats.reconnects).to.be.at.least(1);
    expect(stats.connected).to.equal(true);
    expect(stats.stored + stats.duplicates).to.equal(50);
    expect(disconnects.length, "disconnected events").to.be.at.least(1);
    expect(drains.length, "the coordinator drains before shutting down").to.be.at.least(1);
  });

  it("replays the spool of an MCP process that died, exactly once", async () => {
    // The "MCP" reports to a coordinator that is not there, then dies without closing.
    const deadAddress = `127.0.0.1:${await freePort()}`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "-e", `
      import { createReporter } from ${JSON.stringify(CLIENT_INDEX)};
      const r = createReporter({ address: ${JSON.stringify(deadAddress)}, apiKey: "x", mcpId: ${JSON.stringify(mcpId)}, spoolDir: ${JSON.stringify(spoolDir)} });
      const ids = [];
      for (let i = 0; i < 25; i++) ids.push(r.started("crash-" + i).eventId);
      console.log(JSON.stringify(ids));
      process.kill(process.pid, "SIGKILL");
    `], { encoding: "utf8" });
    expect(child.signal).to.equal("SIGKILL");
    const ids = JSON.parse(child.stdout.trim()) as string[];
    expect(ids).to.have.length(25);

    const r = reporter();
    expect(r.stats().queued).to.equal(25);
    expect(await r.flush(10_000)).to.equal(true);
    expect(await countEvents(ids)).to.equal(25);
    expect(r.stats().stored).to.equal(25);
  });

  it("lets the host process exit on its own after close()", async () => {
    const started = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", "-e", `
      import { createReporter } from ${JSON.stringify(CLIENT_INDEX)};
      const r = createReporter({ address: ${JSON.stringify(site.address)}, apiKey: ${JSON.stringify(token)}, mcpId: ${JSON.stringify(mcpId)}, spoolDir: ${JSON.stringify(spoolDir)} });
      r.started("exit-test");
      const ok = await r.flush(10000);
      await r.close();
      console.log(ok);
    `], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.on("exit", (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(code, "exited by itself (not killed)").to.equal(0);
    expect(out.trim()).to.equal("true");
    expect(Date.now() - started).to.be.lessThan(15_000);
  });
});
