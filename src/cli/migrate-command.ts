/**
 * `mcp-coordinator migrate`: apply pending migrations (the server also does this at start).
 */
import type { Config } from "../config/options.js";
import { withDatabase } from "./with-database.js";

/** Applies migrations and prints what was applied. */
export async function runMigrate(config: Config): Promise<number> {
  const applied = await withDatabase(config, async (_pool, applied) => applied);
  process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "schema up to date; nothing to apply\n");
  return 0;
}
