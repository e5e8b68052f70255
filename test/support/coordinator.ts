/**
 * Starts a coordinator in this process on a fresh test database, on a free port.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/options.js";
import { startCoordinator, type Coordinator, type StartOptions } from "../../src/coordinator.js";
import { createTestDatabase } from "./database.js";
import { testLogger } from "./logger.js";

/**
 * A Config for a coordinator under test: every setting at its default, except quiet logs, a
 * short shutdown grace and a small pool; `settings` (listen, database, data dir...) on top.
 */
export function testConfig(settings: Partial<Config>): Config {
  return { ...loadConfig({}, {}), logLevel: "silent", shutdownGraceMs: 2_000, dbPoolSize: 5, ...settings };
}

/** A coordinator under test, with its database and the admin token it created. */
export interface TestCoordinator {
  coordinator: Coordinator;
  address: string;
  adminToken: string;
  config: Config;
  databaseUrl: string;
  /** Name of the test database (to make it unreachable, say). */
  databaseName: string;
  /** Shuts the coordinator down and drops its database and data directory. */
  stop(): Promise<void>;
}

/**
 * Starts one.
 *
 * @param overrides - config fields to change (e.g. a short shutdown grace).
 * @param options - start options beyond the config (check intervals, cache lifetimes).
 */
export async function startTestCoordinator(
  overrides: Partial<Config> = {},
  options: Omit<StartOptions, "logger"> = {},
): Promise<TestCoordinator> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-test-"));
  const config = testConfig({ listen: "127.0.0.1:0", databaseUrl: database.connectionString, dataDir, ...overrides });
  // Tests see the rollups of the current minute at the next run, without the production settle time.
  const coordinator = await startCoordinator(config, { logger: testLogger(), ...options, rollups: { settleMs: 0, ...options.rollups } });
  const adminToken = (await readFile(path.join(dataDir, "admin.key"), "utf8")).trim();
  return {
    coordinator,
    address: `127.0.0.1:${coordinator.port}`,
    adminToken,
    config,
    databaseUrl: database.connectionString,
    databaseName: database.name,
    async stop() {
      await coordinator.shutdown();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
