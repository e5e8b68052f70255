/**
 * Opens the database for a one-shot command (migrate, keys), migrated, and closes it afterwards.
 */
import type { Pool } from "pg";
import type { Config } from "../config/options.js";
import { createLogger } from "../logger.js";
import { migrate } from "../store/migrate.js";
import { openDatabase } from "../store/open.js";

/**
 * Runs `fn` with a pool on the configured database (joining a running embedded server when there
 * is one), after applying any pending migrations.
 */
export async function withDatabase<T>(config: Config, fn: (pool: Pool, applied: string[]) => Promise<T>): Promise<T> {
  // Commands print their own results; the log only says what went wrong.
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel, process.stderr);
  const database = await openDatabase(config, logger);
  try {
    const { applied } = await migrate(database.pool, logger);
    return await fn(database.pool, applied);
  } finally {
    await database.close();
  }
}
