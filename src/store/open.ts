/**
 * Opens the coordinator's database: the configured DATABASE_URL, or an embedded PostgreSQL
 * started (or joined, when another process of ours already runs it) under the data directory.
 */
import path from "node:path";
import type { Pool } from "pg";
import type { Logger } from "pino";
import type { Config } from "../config/options.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { once } from "./once.js";
import { createPool } from "./pool.js";

/** An open database: a pool, and how to close everything that opening it started. */
export interface Database {
  pool: Pool;
  /** True when this process started (and will stop) an embedded PostgreSQL. */
  embedded: boolean;
  /** Ends the pool, then stops the embedded PostgreSQL if this process owns it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens the database named by the configuration.
 *
 * @param applicationName - what the pool's connections show in pg_stat_activity (default
 *   "mcp-coordinator"); an application_name in DATABASE_URL wins.
 *
 * @throws when the embedded server cannot start; the message says why (port, permissions, disk).
 */
export async function openDatabase(
  config: Pick<Config, "databaseUrl" | "dataDir" | "embeddedPgPort" | "dbPoolSize">,
  logger: Logger,
  applicationName?: string,
): Promise<Database> {
  if (config.databaseUrl) {
    const pool = createPool(config.databaseUrl, logger, { max: config.dbPoolSize, applicationName });
    return { pool, embedded: false, close: once(() => pool.end()) };
  }
  const dataDir = path.resolve(config.dataDir);
  const server = await startEmbeddedPostgres({
    dataDir,
    port: config.embeddedPgPort || undefined,
    logger,
  });
  if (!server.owned) logger.info({ dataDir }, "joined the embedded PostgreSQL already running");
  const pool = createPool(server.connectionString, logger, { max: config.dbPoolSize, applicationName });
  return {
    pool,
    embedded: server.owned,
    close: once(async () => {
      await pool.end();
      await server.stop();
    }),
  };
}
