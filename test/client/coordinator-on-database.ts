/**
 * A coordinator that can be stopped and started again on the same port and database, for the
 * reporter's reconnect tests (test/support's helper drops its database on stop).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Config } from "../../src/config/options.js";
import { startCoordinator, type Coordinator } from "../../src/coordinator.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";
import { testConfig } from "../support/coordinator.js";
import { freePort } from "../support/ports.js";

/** One database and port, with coordinators started and stopped on them at will. */
export interface CoordinatorSite {
  address: string;
  database: TestDatabase;
  /** The running coordinator, if any. */
  current: Coordinator | undefined;
  start(): Promise<Coordinator>;
  /** Graceful shutdown (Drain, then close) of the running one. */
  stop(): Promise<void>;
  /** Stops it and drops the database. */
  dispose(): Promise<void>;
}

/** Creates a site on a free port and a fresh database. */
export async function createCoordinatorSite(overrides: Partial<Config> = {}): Promise<CoordinatorSite> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-client-"));
  const port = await freePort();
  const config = testConfig({ listen: `127.0.0.1:${port}`, databaseUrl: database.connectionString, dataDir, ...overrides });
  const site: CoordinatorSite = {
    address: `127.0.0.1:${port}`,
    database,
    current: undefined,
    async start() {
      site.current = await startCoordinator(config, { logger: testLogger() });
      return site.current;
    },
    async stop() {
      const running = site.current;
      site.current = undefined;
      await running?.shutdown();
    },
    async dispose() {
      await site.stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return site;
}
