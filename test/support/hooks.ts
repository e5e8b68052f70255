/**
 * Mocha root hooks (loaded through .mocharc.json "require"): one PostgreSQL server for the whole run
 * and one migrated template database that test files clone (see database.ts).
 *
 * - DATABASE_URL set: that server is used (the role needs CREATEDB); the URL's database is used
 *   only to run CREATE/DROP DATABASE.
 * - Otherwise an embedded server is started in a temporary directory on a free port, with
 *   durability off (a test cluster is thrown away), and deleted afterwards.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { startEmbeddedPostgres } from "../../src/store/embedded.js";
import type { EmbeddedPostgres } from "../../src/store/embedded.js";
import { migrate } from "../../src/store/migrate.js";
import { createPool } from "../../src/store/pool.js";
import { adminPool, registerTestServer, serverConnectionString, unregisterTestServer } from "./database.js";
import { testLogger } from "./logger.js";

let embedded: EmbeddedPostgres | undefined;
let tempDir: string | undefined;
let template: string | undefined;

/** The root hooks mocha picks up from this module. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000); // first run: initdb
    let baseUrl: string;
    let adminDatabase: string;
    if (process.env.DATABASE_URL) {
      baseUrl = process.env.DATABASE_URL;
      adminDatabase = decodeURIComponent(new URL(baseUrl).pathname.slice(1)) || "postgres";
    } else {
      tempDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-test-pg-"));
      // mkdtemp makes 0700; running as root, postgres runs as the "postgres" user and must enter it.
      await chmod(tempDir, 0o755);
      embedded = await startEmbeddedPostgres({
        dataDir: tempDir,
        logger: testLogger(),
        // Durability buys nothing for a cluster deleted at the end of the run; speed does.
        settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
      });
      baseUrl = embedded.connectionString;
      adminDatabase = "postgres";
    }

    const name = `mcpc_template_${randomBytes(6).toString("hex")}`;
    registerTestServer(baseUrl, adminDatabase, name);
    // Why: the template starts empty (template0) so it holds exactly what the migrations create.
    await adminPool().query(`CREATE DATABASE "${name}" TEMPLATE template0`);
    template = name;
    const pool = createPool(serverConnectionString(name), testLogger(), { max: 1 });
    try {
      await migrate(pool, testLogger());
    } finally {
      await pool.end();
    }
    // Why: CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template; refusing
    // connections turns a stray connection into a clear error instead of a flaky clone.
    await adminPool().query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS false`);
  },

  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    try {
      if (template) {
        // Why: the template is ours alone; FORCE in case a failed test left a connection to it.
        await adminPool().query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
        template = undefined;
      }
      await unregisterTestServer();
    } finally {
      await embedded?.stop();
      embedded = undefined;
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
      tempDir = undefined;
    }
  },
};
