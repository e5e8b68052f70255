/**
 * The pg connection pool every part of the coordinator shares, configured once here.
 */
import pg from "pg";
import type { Pool } from "pg";
import type { Logger } from "pino";

/** Options for {@link createPool}; every field has a default suited to one coordinator replica. */
export interface PoolOptions {
  /** Maximum connections. Default 10: group commit batches writes, so few connections go far. */
  max?: number;
  /**
   * Server-side limit per statement, in ms (0 = none). Default 30 s: a runaway query gets cancelled
   * instead of holding a connection (and its locks) forever. Sessions that must wait longer (the
   * migration lock) lift it for themselves.
   */
  statementTimeoutMs?: number;
  /**
   * A session left idle inside a transaction is terminated after this many ms (0 = never).
   * Default 60 s: a leaked transaction would otherwise hold row locks and block vacuum.
   */
  idleInTransactionTimeoutMs?: number;
  /** How long to wait for a new connection before failing. Default 10 s. */
  connectionTimeoutMs?: number;
  /** Shown in pg_stat_activity. Default "mcp-coordinator". */
  applicationName?: string;
}

/**
 * Creates the pool. Errors of idle (or checked-out but idle) connections, such as the server
 * restarting, are logged instead of crashing the process: pg emits them as "error" events, and an
 * EventEmitter "error" without a listener throws.
 */
export function createPool(connectionString: string, logger: Logger, options: PoolOptions = {}): Pool {
  const log = logger.child({ component: "pg-pool" });
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "mcp-coordinator",
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    // Idle connections are closed after 30 s so a quiet replica does not pin server slots.
    idleTimeoutMillis: 30_000,
    // A database host that vanishes (no RST) is noticed by TCP instead of hanging a query forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  pool.on("error", (err) => log.warn({ err }, "idle PostgreSQL connection failed; the pool will replace it"));
  // A checked-out client (a LISTEN connection, say) only gets the pool's listener while idle; give
  // every client one so a dropped connection is a logged event, not an uncaught exception. Query
  // errors still reach their callers through the rejected promise.
  pool.on("connect", (client) => {
    client.on("error", (err) => log.warn({ err }, "PostgreSQL connection failed"));
  });
  return pool;
}

/** What {@link checkDatabase} learned about the server. */
export interface DatabaseInfo {
  /** e.g. "18.4". */
  serverVersion: string;
  /** The database the pool is connected to. */
  database: string;
}

/**
 * Round-trips one query to prove the database is reachable (startup, health checks).
 *
 * @throws the connection or query error when it is not.
 */
export async function checkDatabase(pool: Pool): Promise<DatabaseInfo> {
  // Why: cheapest query that exercises connect + auth + a real round trip, and tells us what we
  // are talking to for the startup log.
  const result = await pool.query<{ server_version: string; database: string }>(
    "SELECT current_setting('server_version') AS server_version, current_database() AS database",
  );
  const row = result.rows[0];
  if (!row) throw new Error("checkDatabase: the server returned no row");
  return { serverVersion: row.server_version, database: row.database };
}
