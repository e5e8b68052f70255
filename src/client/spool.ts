/**
 * The durable spool: an append-only file of events not yet acknowledged, so that an MCP process
 * crash loses nothing (the next start replays it).
 *
 * Format (text, one record per line, so a torn last line after a crash costs one record at most):
 * ```
 * mcpc-spool 1                                   header
 * E <enqueuedAtMs> <eventId> <base64 protobuf>   an event (InteractionEvent, seq unset)
 * A <eventId>                                    that event is acked (stored, duplicate or rejected)
 * ```
 * Replay: every E without a later A is pending, in file order (oldest first).
 *
 * Writes are synchronous (appendFileSync on an open descriptor): once `append` returns, the event
 * is in the kernel's page cache and survives the process dying. It is not fsynced per event (that
 * would cost milliseconds per call); an OS crash or power loss may lose the last few seconds.
 *
 * Compaction rewrites the file with only the pending events (temp file, fsync, rename: atomic) when
 * acked records outweigh pending ones, on open, and when the size bound is hit.
 *
 * Bounds: records older than maxAgeMs are dropped on open and at compaction (`expired`). The file
 * never exceeds maxBytes: an event that does not fit even after compaction is not persisted
 * (`append` returns false, counted in `overflowed`); the caller still sends it from memory.
 */
import fs from "node:fs";
import path from "node:path";
import { acquireLock, type HeldLock } from "./lock.js";
import type { ReporterLogger } from "./logger.js";

const HEADER = "mcpc-spool 1\n";
/** Compaction waits until acked records take at least this much, so small files are not rewritten on every ack. */
const COMPACT_MIN_DEAD_BYTES = 256 * 1024;
/** How many spool files (`x.spool`, `x-1.spool`, ...) to try when others are locked by live processes. */
const MAX_SPOOL_SLOTS = 16;

/** One pending event as stored in the spool. */
export interface SpoolRecord {
  eventId: string;
  /** When the event was reported (ms since epoch); the age limit counts from here. */
  enqueuedAt: number;
  /** The encoded InteractionEvent. */
  payload: Uint8Array;
}

/** Spool settings. */
export interface SpoolOptions {
  maxBytes: number;
  maxAgeMs: number;
  logger: ReporterLogger;
  /** Clock, for tests. */
  now?: () => number;
}

/** Counters of one spool. */
export interface SpoolStats {
  /** Pending events in the file. */
  records: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** Events not persisted because the file was full (this process). */
  overflowed: number;
  /** Events dropped for being older than maxAgeMs (this process, at open and compaction). */
  expired: number;
  /** Unparseable lines found at open (a torn last line after a crash, typically). */
  corrupt: number;
}

interface Live {
  enqueuedAt: number;
  line: string;
}

/** A spool file, locked for this process. */
export class Spool {
  readonly path: string;
  readonly #lock: HeldLock;
  readonly #options: SpoolOptions;
  readonly #now: () => number;
  readonly #live = new Map<string, Live>();
  #fd: number | undefined;
  #fileBytes = 0;
  #liveBytes = 0;
  /** A write failed part-way: the file may end in a torn line, so rewrite before appending again. */
  #needsRewrite = false;
  #overflowed = 0;
  #expired = 0;
  #corrupt = 0;

  private constructor(filePath: string, lock: HeldLock, options: SpoolOptions) {
    this.path = filePath;
    this.#lock = lock;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Opens (creating if needed) the first spool file in `dir` named after `baseName` that no live
   * process holds, and returns it with its pending events, oldest first.
   *
   * @returns undefined when every slot is held by a live process.
   * @throws on file-system errors (directory not creatable, say).
   */
  static open(dir: string, baseName: string, options: SpoolOptions): { spool: Spool; pending: SpoolRecord[] } | undefined {
    fs.mkdirSync(dir, { recursive: true });
    const safe = baseName.replace(/[^A-Za-z0-9._-]/g, "_") || "default";
    for (let slot = 0; slot < MAX_SPOOL_SLOTS; slot++) {
      const filePath = path.join(dir, slot === 0 ? `${safe}.spool` : `${safe}-${slot}.spool`);
      const lock = acquireLock(`${filePath}.lock`);
      if (!lock) continue;
      try {
        const spool = new Spool(filePath, lock, options);
        const pending = spool.#replay();
        return { spool, pending };
      } catch (error) {
        lock.release();
        throw error;
      }
    }
    return undefined;
  }

  /**
   * Persists one event. Synchronous: when it returns true the event survives a process crash.
   *
   * @returns false when the event was not persisted: the spool is full (even after compaction) or
   *   the write failed. The caller keeps it in memory either way.
   */
  append(record: SpoolRecord): boolean {
    if (this.#fd === undefined) return false;
    const line = `E ${Math.floor(record.enqueuedAt)} ${record.eventId} ${Buffer.from(record.payload).toString("base64")}\n`;
    const size = Buffer.byteLength(line);
    try {
      if (this.#needsRewrite || this.#fileBytes + size > this.#options.maxBytes) this.#compact();
      if (this.#fileBytes + size > this.#options.maxBytes) {
        this.#overflowed++;
        return false;
      }
      this.#write(line);
    } catch (error) {
      this.#needsRewrite = true;
      this.#options.logger.warn({ err: String(error), path: this.path }, "spool write failed; event kept in memory only");
      return false;
    }
    this.#live.set(record.eventId, { enqueuedAt: record.enqueuedAt, line });
    this.#liveBytes += size;
    return true;
  }

  /** Whether `eventId` is persisted and pending. */
  has(eventId: string): boolean {
    return this.#live.has(eventId);
  }

  /**
   * Marks an event done (acked or given up on): it will not be replayed. Unknown ids (never
   * persisted, or expired) are ignored. Never throws.
   */
  remove(eventId: string): void {
    const live = this.#live.get(eventId);
    if (!live || this.#fd === undefined) return;
    this.#live.delete(eventId);
    this.#liveBytes -= Buffer.byteLength(live.line);
    const ack = `A ${eventId}\n`;
    try {
      const ackSize = Buffer.byteLength(ack);
      const dead = this.#fileBytes + ackSize - this.#liveBytes - HEADER.length;
      // Compact instead of writing the ack when the ack would break the size bound or when acked
      // records dominate the file: the rewrite drops this event too.
      if (this.#needsRewrite || this.#fileBytes + ackSize > this.#options.maxBytes || dead >= Math.max(this.#liveBytes, COMPACT_MIN_DEAD_BYTES)) {
        this.#compact();
      } else {
        this.#write(ack);
      }
    } catch (error) {
      // The ack record is lost: the event may be resent after a restart, and dedupe answers DUPLICATE.
      this.#needsRewrite = true;
      this.#options.logger.warn({ err: String(error), path: this.path }, "spool ack write failed");
    }
  }

  /** Current counters. */
  stats(): SpoolStats {
    return {
      records: this.#live.size,
      bytes: this.#fileBytes,
      overflowed: this.#overflowed,
      expired: this.#expired,
      corrupt: this.#corrupt,
    };
  }

  /**
   * Closes the file and releases the lock. Pending events stay in the file for the next start.
   * Idempotent; never throws.
   */
  close(): void {
    if (this.#fd === undefined) return;
    try {
      fs.closeSync(this.#fd);
    } catch {
      // Closing a descriptor can only fail if it is already invalid.
    }
    this.#fd = undefined;
    this.#lock.release();
  }

  /** Reads the file, keeps what is pending and young enough, and rewrites it compactly. */
  #replay(): SpoolRecord[] {
    let text = "";
    try {
      text = fs.readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (text && !text.startsWith(HEADER)) {
      // Not ours, or from a future format: keep it for a person to look at, start afresh.
      const aside = `${this.path}.unknown-${Date.now()}`;
      fs.renameSync(this.path, aside);
      this.#options.logger.error({ path: this.path, movedTo: aside }, "spool file has an unknown format; moved aside");
      text = "";
    }
    const records = new Map<string, Live & { payload: string }>();
    for (const line of text.slice(text ? HEADER.length : 0).split("\n")) {
      if (line === "") continue;
      const parts = line.split(" ");
      if (parts[0] === "E" && parts.length === 4 && /^\d+$/.test(parts[1]!) && parts[2]) {
        records.set(parts[2], { enqueuedAt: Number(parts[1]), line: `${line}\n`, payload: parts[3]! });
      } else if (parts[0] === "A" && parts.length === 2 && parts[1]) {
        records.delete(parts[1]);
      } else {
        this.#corrupt++;
      }
    }
    const oldest = this.#now() - this.#options.maxAgeMs;
    const pending: SpoolRecord[] = [];
    for (const [eventId, record] of records) {
      if (record.enqueuedAt < oldest) {
        this.#expired++;
        continue;
      }
      // Kept even if maxBytes was lowered since they were written: they were accepted once, and
      // losing them is worse than a file over the bound until their acks arrive.
      const size = Buffer.byteLength(record.line);
      this.#live.set(eventId, { enqueuedAt: record.enqueuedAt, line: record.line });
      this.#liveBytes += size;
      pending.push({ eventId, enqueuedAt: record.enqueuedAt, payload: Buffer.from(record.payload, "base64") });
    }
    if (this.#corrupt) this.#options.logger.warn({ path: this.path, lines: this.#corrupt }, "spool had unreadable lines (torn write?); skipped");
    this.#compact();
    return pending;
  }

  /** Rewrites the file with only the pending, unexpired events (atomically) and reopens it. */
  #compact(): void {
    const oldest = this.#now() - this.#options.maxAgeMs;
    const lines = [HEADER];
    let bytes = HEADER.length;
    for (const [eventId, live] of this.#live) {
      if (live.enqueuedAt < oldest) {
        // Expired: the sender also checks age before sending, so dropping it here is enough.
        this.#live.delete(eventId);
        this.#liveBytes -= Buffer.byteLength(live.line);
        this.#expired++;
        continue;
      }
      lines.push(live.line);
      bytes += Buffer.byteLength(live.line);
    }
    const temp = `${this.path}.tmp`;
    const fd = fs.openSync(temp, "w");
    try {
      fs.writeFileSync(fd, lines.join(""));
      // Why fsync here although appends are not: a rename of unsynced data can leave an empty file
      // after an OS crash, which would lose every pending event, not just the last few.
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
    fs.renameSync(temp, this.path);
    this.#fd = fs.openSync(this.path, "a");
    this.#fileBytes = bytes;
    this.#needsRewrite = false;
  }

  #write(line: string): void {
    fs.appendFileSync(this.#fd!, line);
    this.#fileBytes += Buffer.byteLength(line);
  }
}
