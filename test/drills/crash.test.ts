/**
 * Crash drills with real processes: a coordinator killed with -9 mid-stream, and a coordinator
 * stopped with SIGTERM while another replica serves the same database. Nothing may be lost or
 * stored twice, and the reporter must finish by itself.
 */
import { expect } from "chai";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createKey } from "../../src/auth/keys.js";
import { createTestDatabase, waitFor, type TestDatabase } from "../support/database.js";
import { runCoordinator, servingPort, type CoordinatorProcess } from "../support/process.js";
import { freePort } from "../support/ports.js";
import { startReporterChild, storedEvents } from "./drill-support.js";

describe("crash drills", function () {
  this.timeout(180_000);
  let database: TestDatabase;
  let dir: string;
  const processes: CoordinatorProcess[] = [];

  beforeEach(async () => {
    database = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), "mcpc-drill-"));
    await chmod(dir, 0o755);
  });
  afterEach(async () => {
    for (const proc of processes.splice(0)) proc.kill();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  function coordinator(port: number, name: string): CoordinatorProcess {
    const proc = runCoordinator(["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", path.join(dir, name), "--shutdown-grace", "10s"], {
      DATABASE_URL: database.connectionString,
    });
    processes.push(proc);
    return proc;
  }

  it("kill -9 of the coordinator with 10,000 events in flight: exactly 10,000 rows after restart", async () => {
    const port = await freePort();
    await servingPort(coordinator(port, "a"));
    const { token } = await createKey(database.pool, { role: "mcp", mcpId: "drill-mcp" });
    const reporter = startReporterChild({
      address: `127.0.0.1:${port}`,
      apiKey: token,
      spoolDir: path.join(dir, "spool"),
      count: 10_000,
      prefix: "kill9",
      flushMs: 120_000,
    });
    // Kill it mid-run: some events stored, many not yet.
    await waitFor(async () => (await storedEvents(database.pool, "drill-mcp")).rows >= 1_500, { timeoutMs: 60_000, message: "ingest under way" });
    processes[0]!.child.kill("SIGKILL");
    await processes[0]!.exited();
    const atKill = (await storedEvents(database.pool, "drill-mcp")).rows;
    expect(atKill).to.be.below(10_000);

    await servingPort(coordinator(port, "a"));
    const { code, stats } = await reporter.result(150_000);
    expect(code, reporter.output()).to.equal(0);
    expect(stats.reconnects as number).to.be.at.least(1);
    expect(await storedEvents(database.pool, "drill-mcp")).to.deep.equal({ rows: 10_000, distinct: 10_000 });
    const { rows } = await database.pool.query(
      "SELECT count(*)::int AS n, sum(event_count)::int AS events FROM interactions WHERE mcp_id = 'drill-mcp' AND status = 3",
    );
    expect(rows[0]).to.deep.equal({ n: 5_000, events: 10_000 });
  });

  it("kill -9 of the MCP process mid-run: restarted on the same spool, nothing is lost or doubled", async () => {
    const port = await freePort();
    await servingPort(coordinator(port, "a"));
    const { token } = await createKey(database.pool, { role: "mcp", mcpId: "mortal-mcp" });
    const spoolDir = path.join(dir, "spool");
    const first = startReporterChild({ address: `127.0.0.1:${port}`, apiKey: token, spoolDir, count: 10_000, prefix: "mortal", flushMs: 120_000 });
    // Every event is in the spool once "reported" is printed; kill while acks are still coming.
    await waitFor(() => first.output().includes("reported"), { timeoutMs: 60_000, message: "events reported" });
    await waitFor(async () => (await storedEvents(database.pool, "mortal-mcp")).rows >= 1_000, { timeoutMs: 60_000, message: "ingest under way" });
    first.child.kill("SIGKILL");
    await first.result(10_000);
    expect((await storedEvents(database.pool, "mortal-mcp")).rows).to.be.below(10_000);

    // The MCP starts again with the same spool and reports nothing new: the replay alone completes it.
    const second = startReporterChild({ address: `127.0.0.1:${port}`, apiKey: token, spoolDir, count: 0, prefix: "mortal", flushMs: 120_000 });
    const { code } = await second.result(150_000);
    expect(code, second.output()).to.equal(0);
    expect(await storedEvents(database.pool, "mortal-mcp")).to.deep.equal({ rows: 10_000, distinct: 10_000 });
  });

  it("SIGTERM of one of two replicas: its clients get Drain, move to the other, nothing lost or doubled", async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    await Promise.all([servingPort(coordinator(portA, "a")), servingPort(coordinator(portB, "b"))]);
    const { token } = await createKey(database.pool, { role: "mcp", mcpId: "drain-mcp" });
    // Both replicas in one target: the channel uses A first and moves to B when A goes away.
    const reporter = startReporterChild({
      address: `ipv4:127.0.0.1:${portA},127.0.0.1:${portB}`,
      apiKey: token,
      spoolDir: path.join(dir, "spool"),
      count: 10_000,
      prefix: "drain",
      flushMs: 120_000,
    });
    await waitFor(async () => (await storedEvents(database.pool, "drain-mcp")).rows >= 1_500, { timeoutMs: 60_000, message: "ingest under way" });
    processes[0]!.child.kill("SIGTERM");
    expect(await processes[0]!.exited(30_000)).to.equal(0);

    const { code, stats } = await reporter.result(150_000);
    expect(code, reporter.output()).to.equal(0);
    expect(stats.drains as number, "the client was told to drain").to.be.at.least(1);
    expect(await storedEvents(database.pool, "drain-mcp")).to.deep.equal({ rows: 10_000, distinct: 10_000 });
    // The surviving replica served the rest.
    const { rows } = await database.pool.query("SELECT count(DISTINCT stream_id)::int AS streams FROM interaction_events WHERE mcp_id = 'drain-mcp'");
    expect(rows[0].streams).to.be.at.least(2);
  });
});
