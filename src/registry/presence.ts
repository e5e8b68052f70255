/**
 * A replica's presence in the shared registry: its coordinator_instances row kept alive by a
 * heartbeat, a connection row per open stream (repaired from memory after a database hiccup),
 * last_seen of the MCPs it hears from written in batches, and the removal of replicas that stopped.
 *
 * touch() only adds to a set; one UPDATE per flush interval writes the lot. Rows of replicas that
 * stop proving they are alive are removed by whichever replica notices first, and their
 * connection rows go with them.
 */
import os from "node:os";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { deleteConnection, deleteConnectionsExcept, deleteInstanceConnections, insertConnections, type NewConnection } from "./connection-queries.js";
import { deleteInstance, deleteStaleInstances, heartbeatInstance, upsertInstance, type InstanceRow } from "./instance-queries.js";
import { markSeen } from "./mcp-queries.js";

/** What the ingest reports when a stream has said Hello and been welcomed. */
export interface OpenedStream {
  /** Welcome.stream_id. */
  streamId: string;
  /** The MCP of the stream's key. */
  mcpId: string;
  /** Hello.instance_id: the MCP process holding the stream. */
  instanceId: string;
  /** Hello.client_version. */
  clientVersion: string;
}

/** Identity and timings of a replica's presence. */
export interface PresenceOptions {
  instanceId: string;
  version: string;
  flushIntervalMs: number;
  staleAfterMs: number;
}

/** See the module comment. Call {@link start} before serving, {@link stop} after. */
export class ReplicaPresence {
  readonly #pool: Pool;
  readonly #log: Logger;
  readonly #instanceId: string;
  readonly #instance: InstanceRow;
  readonly #flushIntervalMs: number;
  readonly #staleAfterMs: number;
  /** MCPs heard from since the last flush. */
  #seen = new Set<string>();
  /** This replica's open streams: the truth the connection rows are repaired from. */
  readonly #open = new Map<string, NewConnection>();
  /** A connection write failed: rewrite this replica's rows at the next flush. */
  #resync = false;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #flushRunning = false;
  #stopped = false;

  constructor(pool: Pool, log: Logger, options: PresenceOptions) {
    this.#pool = pool;
    this.#log = log;
    this.#instanceId = options.instanceId;
    this.#instance = { instanceId: options.instanceId, hostname: os.hostname(), pid: process.pid, version: options.version };
    this.#flushIntervalMs = options.flushIntervalMs;
    this.#staleAfterMs = options.staleAfterMs;
  }

  /**
   * Records this replica, drops connection rows a previous run under the same id left behind,
   * and starts the periodic flush.
   *
   * @throws when the database cannot be written (the coordinator should not serve without it).
   */
  async start(): Promise<void> {
    await upsertInstance(this.#pool, this.#instance);
    const leftovers = await deleteInstanceConnections(this.#pool, this.#instanceId);
    if (leftovers > 0) this.#log.info({ leftovers }, "removed connection rows left by a previous run of this instance");
    this.#stopped = false;
    // unref: a pending flush must never keep the process alive on its own.
    this.#timer = setInterval(() => {
      // Skip a tick rather than queue flushes behind a slow database.
      if (!this.#flushRunning) void this.flush();
    }, this.#flushIntervalMs).unref();
  }

  /** Stops the flush, writes the last batch of last_seen, and deletes this replica's rows. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
    this.#stopped = true;
    this.#open.clear();
    try {
      await deleteInstance(this.#pool, this.#instanceId);
    } catch (err) {
      // Not fatal: other replicas delete the row once it goes stale.
      this.#log.warn({ err }, "cannot delete this coordinator instance's row; it will expire");
    }
  }

  /**
   * Records an open stream: registers its MCP implicitly (id only) if unknown, writes the
   * connection row, and marks the MCP seen.
   *
   * @throws when the database write fails; the stream stays tracked, and its row is re-written at
   *   a later flush, so callers may log and carry on.
   */
  async streamOpened(stream: OpenedStream): Promise<void> {
    const connection: NewConnection = { ...stream, coordinatorInstance: this.#instanceId };
    this.#open.set(stream.streamId, connection);
    this.touch(stream.mcpId);
    try {
      await insertConnections(this.#pool, [connection]);
    } catch (error) {
      this.#resync = true;
      throw error;
    }
  }

  /** Removes a stream's connection row. Database errors are logged and repaired at a later flush. */
  async streamClosed(streamId: string): Promise<void> {
    const connection = this.#open.get(streamId);
    this.#open.delete(streamId);
    if (connection) this.touch(connection.mcpId);
    try {
      await deleteConnection(this.#pool, streamId);
    } catch (err) {
      this.#resync = true;
      this.#log.warn({ err, streamId }, "cannot delete a closed stream's connection row; retrying at the next flush");
    }
  }

  /** Marks an MCP as heard from now; written at the next flush, however often it is called. */
  touch(mcpId: string): void {
    if (!this.#stopped) this.#seen.add(mcpId);
  }

  /**
   * Writes what is pending: this replica's heartbeat, repaired connection rows, last_seen of every
   * MCP touched since the last flush (one statement), and the removal of dead replicas. The timer
   * calls it; it never throws (failures are logged and retried next time). Calls run one at a time.
   */
  flush(): Promise<void> {
    // The catch keeps the chain usable should a bug ever make a flush reject.
    this.#flushing = this.#flushing
      .then(() => this.#flushOnce())
      .catch((err: unknown) => this.#log.error({ err }, "registry flush failed unexpectedly"));
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    this.#flushRunning = true;
    try {
      await this.#step("heartbeat", async () => {
        // Re-created: another replica judged us dead and our connection rows cascaded away.
        if (await heartbeatInstance(this.#pool, this.#instance)) this.#resync = true;
      });
      if (this.#resync) await this.#step("connection repair", () => this.#repairConnections());
      if (this.#seen.size > 0) {
        const batch = this.#seen;
        this.#seen = new Set();
        const ok = await this.#step("last_seen", () => markSeen(this.#pool, [...batch]));
        if (!ok) for (const mcpId of batch) this.#seen.add(mcpId);
      }
      await this.#step("stale instance cleanup", async () => {
        const removed = await deleteStaleInstances(this.#pool, this.#staleAfterMs, this.#instanceId);
        if (removed.length > 0) this.#log.info({ removed }, "removed coordinator instances that stopped sending heartbeats");
      });
    } finally {
      this.#flushRunning = false;
    }
  }

  async #repairConnections(): Promise<void> {
    this.#resync = false;
    try {
      const open = [...this.#open.values()];
      await deleteConnectionsExcept(this.#pool, this.#instanceId, open.map((c) => c.streamId));
      if (open.length > 0) await insertConnections(this.#pool, open);
    } catch (error) {
      this.#resync = true;
      throw error;
    }
  }

  async #step(what: string, work: () => Promise<unknown>): Promise<boolean> {
    try {
      await work();
      return true;
    } catch (err) {
      this.#log.warn({ err, step: what }, "registry flush step failed; retrying at the next flush");
      return false;
    }
  }
}
