/**
 * The first-start admin key: created once, saved 0600, printed once, never logged.
 */
import { expect } from "chai";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseKey } from "../../src/auth/api-key.js";
import { ensureAdminKey } from "../../src/auth/bootstrap.js";
import { createPool } from "../../src/store/pool.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";
import { runCoordinator, servingPort } from "../support/process.js";

describe("first-start admin key", () => {
  let database: TestDatabase;
  let dataDir: string;

  beforeEach(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-bootstrap-"));
  });
  afterEach(async () => {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("is printed on the first start only, saved with mode 0600, and never logged", async () => {
    const env = { DATABASE_URL: database.connectionString };
    const args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "debug"];

    const first = runCoordinator(args, env);
    await servingPort(first);
    first.child.kill("SIGTERM");
    expect(await first.exited()).to.equal(0);

    const file = path.join(dataDir, "admin.key");
    const token = (await readFile(file, "utf8")).trim();
    expect(token).to.match(/^mcpc_[0-9a-f]{16}_/);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    expect(first.stderr()).to.contain(token);
    expect(JSON.stringify(first.logs)).not.to.contain(parseKey(token)!.secret);

    const second = runCoordinator(args, env);
    await servingPort(second);
    second.child.kill("SIGTERM");
    expect(await second.exited()).to.equal(0);
    expect(second.stderr()).not.to.contain("mcpc_");
  });

  it("creates exactly one key when replicas start at the same moment", async () => {
    const pools = Array.from({ length: 4 }, () => createPool(database.connectionString, testLogger(), { max: 2 }));
    try {
      const results = await Promise.all(pools.map((pool) => ensureAdminKey(pool, dataDir)));
      expect(results.filter((r) => r.created)).to.have.length(1);
      const { rows } = await database.pool.query("SELECT count(*)::int AS n FROM api_keys WHERE role = 'admin'");
      expect(rows[0].n).to.equal(1);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });
});
