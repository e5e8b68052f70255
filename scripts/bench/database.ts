/**
 * The benchmark's database: a fresh embedded PostgreSQL in a temporary directory (or DATABASE_URL),
 * migrated, with MCP keys for the load, and emptied between configurations so every one starts
 * from the same table sizes.
 */
import { chmod, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Pool } from "pg";
import { createKey } from "../../src/auth/keys.js";
import { ensureEventPartitions } from "../../src/interactions/writer-queries.js";
import { createLogger } from "../../src/logger.js";
import { migrate } from "../../src/store/migrate.js";
import { startEmbeddedPostgres } from "../../src/store/embedded.js";
import { createPool } from "../../src/store/pool.js";
import { once } from "../../src/store/once.js";

export interface BenchDatabase {
  url: string;
  pool: Pool;
  /** pid of the postmaster (embedded only), to count Postgres's CPU. */
  postmasterPid: number | undefined;
  /** `embedded PostgreSQL 18.x in /tmp/...` or `DATABASE_URL host ...`. */
  description: string;
  serverVersion: string;
  /** Removes the benchmark's rows (events, keys, summaries, connections) and checkpoints. */
  reset(): Promise<void>;
  /** Creates `count` MCP keys; returns their MCP ids and tokens. */
  createKeys(count: number, prefix: string): Promise<{ mcpIds: string[]; tokens: string[] }>;
  close(): Promise<void>;
}

/** Where the embedded cluster lives when it should outlive the run. */
export interface BenchDatabaseOptions {
  /**
   * Keep the cluster in this directory (created if missing, reused if it holds one) instead of a
   * fresh temporary one removed at close.
   */
  dataDir?: string;
}

/** Starts (or connects to) the database and migrates it. */
export async function openBenchDatabase(poolSize = 4, options: BenchDatabaseOptions = {}): Promise<BenchDatabase> {
  const logger = createLogger("warn");
  let url = process.env.DATABASE_URL;
  let stopServer: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  let removeDataDir = false;
  let postmasterPid: number | undefined;
  let description: string;
  if (url) {
    description = `DATABASE_URL host ${new URL(url).host}`;
  } else {
    removeDataDir = !options.dataDir;
    dataDir = options.dataDir ? path.resolve(options.dataDir) : await mkdtemp(path.join(os.tmpdir(), "mcpc-bench-pg-"));
    await mkdir(dataDir, { recursive: true });
    // PostgreSQL runs as the "postgres" OS user when we are root: it must reach the directory.
    await chmod(dataDir, 0o755);
    const server = await startEmbeddedPostgres({ dataDir, logger, settings: benchSettings() });
    url = server.connectionString;
    stopServer = () => server.stop();
    postmasterPid = Number((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
    description = `embedded PostgreSQL, ${removeDataDir ? "fresh" : "kept"} cluster in ${dataDir} (default settings: fsync on, synchronous_commit on)`;
  }
  const pool = createPool(url, logger, { max: poolSize });
  try {
    await migrate(pool, logger);
    await ensureEventPartitions(pool, 2);
  } catch (error) {
    await pool.end();
    await stopServer?.();
    throw error;
  }
  const { rows } = await pool.query<{ server_version: string }>("SHOW server_version");
  return {
    url,
    pool,
    postmasterPid,
    description,
    serverVersion: rows[0]?.server_version ?? "?",
    async reset() {
      // Why TRUNCATE: every configuration starts with empty event tables, so index sizes (and
      // so insert costs) are the same for all; the checkpoint keeps the previous run's dirty
      // pages from being flushed during the next measurement.
      await pool.query("TRUNCATE interaction_events, interaction_event_keys, interactions, mcp_connections");
      await pool.query("CHECKPOINT").catch(() => undefined); // needs superuser: best effort
    },
    async createKeys(count, prefix) {
      const mcpIds: string[] = [];
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) {
        const mcpId = `${prefix}-${String(i).padStart(4, "0")}`;
        const { token } = await createKey(pool, { role: "mcp", mcpId, name: "bench:ingest" });
        mcpIds.push(mcpId);
        tokens.push(token);
      }
      return { mcpIds, tokens };
    },
    // Idempotent: a signal and main()'s own cleanup may both call it, and the server must stop
    // even if the pool was already ended.
    close: once(async () => {
      await pool.end().catch(() => undefined);
      await stopServer?.();
      if (dataDir && removeDataDir) await rm(dataDir, { recursive: true, force: true });
    }),
  };
}

/** BENCH_PG_SETTINGS="name=value,name=value": extra server settings, for experiments. */
function benchSettings(): Record<string, string> {
  const raw = process.env.BENCH_PG_SETTINGS ?? "";
  return Object.fromEntries(raw.split(",").filter(Boolean).map((pair) => pair.split("=") as [string, string]));
}
