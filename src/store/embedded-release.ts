/**
 * Who stops a shared embedded PostgreSQL: the last coordinator process to leave it.
 *
 * Several of our processes can use one embedded server at once (the server, a `keys` command run
 * beside it, a second replica on the same data directory). Whichever started it first is recorded
 * as owner, but the owner may leave first (a short `keys create` that started the server, then
 * `serve` joined). Stopping on the owner's exit would pull the database from under the others, so
 * every process, owner or not, releases the server the same way: stop it only when no other
 * process of ours is connected and no other live process claims it; otherwise give up any claim
 * and leave it running for the ones still there (the last of them stops it).
 */
import pg from "pg";
import type { Logger } from "pino";

import { readOwner, removeOwner } from "./embedded-state.js";
import { isProcessAlive, stopPostmaster } from "./postmaster.js";

/** Where the server is and how to reach it. */
export interface SharedServer {
  dataDir: string;
  pgDir: string;
  /** The postmaster's pid. */
  pid: number;
  port: number;
  /** Superuser password (never logged). */
  password: string;
  /** Whether this process's handle is the recorded owner (started or adopted the server). */
  owned: boolean;
  /** Resolves when the postmaster exits, when it is our own child (it also reaps the process). */
  exited?: Promise<void>;
}

/** The application_name our pools use; connections with it belong to coordinator processes. */
const APPLICATION_NAME = "mcp-coordinator";

/**
 * Releases this process's use of the server. Call after this process's own pools are closed.
 */
export async function releaseSharedServer(server: SharedServer, logger: Logger): Promise<void> {
  const others = await otherCoordinatorConnections(server).catch((err: unknown) => {
    // Cannot ask (it is already going down): nobody else can be using it either.
    logger.debug({ err }, "could not count other clients of the embedded PostgreSQL");
    return 0;
  });
  if (others > 0) {
    await removeOwner(server.dataDir);
    logger.info({ others }, "other coordinator processes still use the embedded PostgreSQL; leaving it running");
    return;
  }
  const owner = await readOwner(server.dataDir);
  const claimedByAnother = owner !== undefined && isProcessAlive(owner) && !(server.owned && owner === process.pid);
  if (claimedByAnother) {
    logger.debug({ owner }, "the embedded PostgreSQL belongs to another live process; leaving it running");
    return;
  }
  await stopPostmaster(server.pgDir, server.pid, { timeoutMs: 30_000, ...(server.exited ? { exited: server.exited } : {}) });
  await removeOwner(server.dataDir);
  logger.info({ postgresPid: server.pid }, "embedded PostgreSQL stopped");
}

async function otherCoordinatorConnections(server: SharedServer): Promise<number> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port: server.port,
    user: "postgres",
    password: server.password,
    database: "postgres",
    // A different name, so this check does not count itself or other processes' checks.
    application_name: "mcp-coordinator-release",
    connectionTimeoutMillis: 5_000,
  });
  await client.connect();
  try {
    // Why: our pools tag their connections; any left belong to other processes, because the
    // caller closed its own pools first.
    const { rows } = await client.query<{ n: number }>(
      // (A process's decision-feed listener is named "mcp-coordinator decision-feed".)
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 OR application_name LIKE $1 || ' %'",
      [APPLICATION_NAME],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}
