/**
 * An exclusive, crash-tolerant lock file: at most one reporter uses a spool file at a time.
 *
 * The lock holds the owner's pid and a per-process token. A lock whose pid is dead is stale and
 * taken over; so is a lock with our own pid but another token (a restarted container often gets
 * the same pid, e.g. 1, as its previous life: comparing pids alone would lock us out of our own
 * spool forever).
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";

/** Identifies this process's incarnation (pids are reused; this is not). */
const PROCESS_TOKEN = randomBytes(8).toString("hex");

/** A lock file being written right now has no content yet; give its writer this long. */
const FRESH_LOCK_GRACE_MS = 10_000;

interface LockContent {
  pid: number;
  token: string;
}

/** A held lock. */
export interface HeldLock {
  path: string;
  /** Removes the lock file if it is still ours. Never throws. */
  release(): void;
}

/**
 * Takes the lock at `lockPath`, taking over a stale one.
 *
 * @param owner - a token identifying the holder within this process: two holders in one process
 *   with different tokens exclude each other. Defaults to a fresh token.
 * @returns the lock, or undefined when a live holder has it.
 * @throws on file-system errors other than "exists" (unwritable directory, say).
 */
export function acquireLock(lockPath: string, owner = randomBytes(8).toString("hex")): HeldLock | undefined {
  const mine: LockContent = { pid: process.pid, token: `${PROCESS_TOKEN}:${owner}` };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // Why "wx": creation fails if the file exists, so two processes cannot both create it.
      fs.writeFileSync(lockPath, JSON.stringify(mine), { flag: "wx" });
      return {
        path: lockPath,
        release: () => {
          try {
            if (sameLock(readLock(lockPath), mine)) fs.unlinkSync(lockPath);
          } catch {
            // Already gone or unreadable: nothing of ours to remove.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const current = readLock(lockPath);
    if (current === "missing") continue; // released between our create and our read
    if (!isStale(lockPath, current)) return undefined;
    if (!takeOver(lockPath, current)) return undefined;
  }
  return undefined;
}

function readLock(lockPath: string): LockContent | "missing" | "unreadable" {
  try {
    const parsed = JSON.parse(fs.readFileSync(lockPath, "utf8")) as Partial<LockContent>;
    if (typeof parsed.pid === "number" && typeof parsed.token === "string") return { pid: parsed.pid, token: parsed.token };
    return "unreadable";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : "unreadable";
  }
}

function sameLock(a: LockContent | "missing" | "unreadable", b: LockContent): boolean {
  return typeof a === "object" && a.pid === b.pid && a.token === b.token;
}

function isStale(lockPath: string, lock: LockContent | "unreadable"): boolean {
  if (lock === "unreadable") {
    // Either a crash mid-write (stale) or another process writing it right now (live).
    try {
      return Date.now() - fs.statSync(lockPath).mtimeMs > FRESH_LOCK_GRACE_MS;
    } catch {
      return true;
    }
  }
  if (lock.pid === process.pid) return !lock.token.startsWith(`${PROCESS_TOKEN}:`);
  return !pidAlive(lock.pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: existence check only
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Moves a stale lock out of the way. Renaming (atomic) rather than unlinking means that of two
 * processes taking over the same stale lock, only one succeeds; the other sees ENOENT.
 */
function takeOver(lockPath: string, seen: LockContent | "unreadable"): boolean {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch {
    return true; // gone already: retry the create
  }
  const moved = readLock(aside);
  if (seen !== "unreadable" && !sameLock(moved, seen)) {
    // We moved a fresh lock someone created after our check: give it back.
    try {
      fs.renameSync(aside, lockPath);
    } catch {
      // Nothing better to do; that holder will find its lock gone and we do not use the file.
    }
    return false;
  }
  try {
    fs.unlinkSync(aside);
  } catch {
    // Leftover file; harmless.
  }
  return true;
}
