import { expect } from "chai";
import { spawn } from "node:child_process";
import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

import { startEmbeddedPostgres } from "../../src/store/embedded.js";
import type { EmbeddedPostgres } from "../../src/store/embedded.js";
import { isProcessAlive, readPostmasterPid } from "../../src/store/postmaster.js";
import { waitFor } from "../support/database.js";
import { testLogger } from "../support/logger.js";

const CHILD = fileURLToPath(new URL("../support/embedded-child.ts", import.meta.url));

async function query<T extends pg.QueryResultRow>(connectionString: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function start(dataDir: string): Promise<EmbeddedPostgres> {
  return startEmbeddedPostgres({ dataDir, logger: testLogger(), settings: { fsync: "off" } });
}

describe("embedded PostgreSQL", function () {
  this.timeout(60_000);
  let dataDir: string;
  const servers: EmbeddedPostgres[] = [];

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-embedded-"));
    await chmod(dataDir, 0o755); // the "postgres" OS user must be able to enter it when we are root
  });
  afterEach(async () => {
    for (const server of servers.splice(0).reverse()) await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts, keeps its data across stop and start, and keeps the password private", async () => {
    const first = await start(dataDir);
    servers.push(first);
    expect(first.owned).to.equal(true);
    expect(new URL(first.connectionString).hostname).to.equal("127.0.0.1");
    expect(new URL(first.connectionString).pathname).to.equal("/coordinator");
    await query(first.connectionString, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    await first.stop();
    expect(await readPostmasterPid(path.join(dataDir, "pg"))).to.equal(undefined);

    const second = await start(dataDir);
    servers.push(second);
    expect(await query(second.connectionString, "SELECT v FROM kept")).to.deep.equal([{ v: "still here" }]);
    const mode = (await stat(path.join(dataDir, "pg-password"))).mode & 0o777;
    expect(mode.toString(8)).to.equal("600");
    // The password is the one generated on first start.
    expect(new URL(second.connectionString).password).to.equal(new URL(first.connectionString).password);
  });

  it("connects to the server already running on the data directory instead of starting another", async () => {
    const owner = await start(dataDir);
    servers.push(owner);
    const guest = await start(dataDir);
    expect(guest.owned).to.equal(false);
    expect(new URL(guest.connectionString).port).to.equal(new URL(owner.connectionString).port);
    expect(await query(guest.connectionString, "SELECT 1 AS one")).to.deep.equal([{ one: 1 }]);
    await guest.stop(); // leaves it running: the owner still claims it
    expect(await query(owner.connectionString, "SELECT 1 AS one")).to.deep.equal([{ one: 1 }]);
  });

  it("keeps running for a process that joined when the starter leaves first, and stops with the last one", async () => {
    // e.g. `keys create` starts the server, `serve` joins it, then `keys create` exits.
    const starter = await start(dataDir);
    servers.push(starter);
    const joiner = await start(dataDir);
    expect(joiner.owned).to.equal(false);
    // The joiner's coordinator pool: connections tagged the way createPool tags them.
    const joinerPool = new pg.Pool({ connectionString: joiner.connectionString, application_name: "mcp-coordinator", max: 1 });
    await joinerPool.query("SELECT 1");

    await starter.stop();
    expect((await joinerPool.query("SELECT 1 AS one")).rows).to.deep.equal([{ one: 1 }]);

    await joinerPool.end();
    await joiner.stop();
    expect(await readPostmasterPid(path.join(dataDir, "pg"))).to.equal(undefined);
  });

  it("adopts the server a killed owner left behind, and stops it", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dataDir], { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const childExited = new Promise((resolve) => child.once("exit", resolve));
    try {
      await waitFor(() => output.includes("ready"), { timeoutMs: 30_000, message: "child started postgres" });
    } finally {
      child.kill("SIGKILL");
      await childExited;
    }
    const orphan = await readPostmasterPid(path.join(dataDir, "pg"));
    expect(orphan && isProcessAlive(orphan.pid), "postgres survives its owner's SIGKILL").to.equal(true);

    const adopter = await start(dataDir);
    servers.push(adopter);
    expect(adopter.owned).to.equal(true);
    // An error makes the server write to its stderr, whose reader died with the child.
    await query(adopter.connectionString, "SELECT no_such_function()").catch(() => undefined);
    expect(await query(adopter.connectionString, "SELECT 1 AS one")).to.deep.equal([{ one: 1 }]);
    await adopter.stop();
    expect(await readPostmasterPid(path.join(dataDir, "pg"))).to.equal(undefined);
  });

  it("starts despite a stale postmaster.pid whose process is gone", async () => {
    const first = await start(dataDir);
    servers.push(first);
    await first.stop();
    const pgDir = path.join(dataDir, "pg");
    // What a crash leaves behind: the lock file of a server that no longer runs.
    const deadPid = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ["-e", ""]);
      child.once("exit", () => resolve(child.pid as number));
    });
    await writeFile(path.join(pgDir, "postmaster.pid"), `${deadPid}\n${pgDir}\n0\n5\n\n127.0.0.1\n0 0\nready   \n`);
    const second = await start(dataDir);
    servers.push(second);
    expect(second.owned).to.equal(true);
    expect(await query(second.connectionString, "SELECT 1 AS one")).to.deep.equal([{ one: 1 }]);
  });
});
