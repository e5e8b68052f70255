/**
 * The MCP registry: registrations (RegisterMcp, ListMcps), which streams are open on which
 * coordinator replica, and when each MCP was last heard from.
 *
 * Postgres holds all of it, so every replica sees the same registry. Each replica keeps a row in
 * coordinator_instances alive with a heartbeat; rows of replicas that stop (crash) are removed by
 * whichever replica notices first, and their connection rows go with them. last_seen is written in
 * batches: touch() only adds to a set, and one UPDATE per flush interval writes the lot.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { createKey, KeyRequestError } from "../auth/keys.js";
import { withTransaction } from "../store/transaction.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import {
  deleteConnection,
  deleteConnectionsExcept,
  deleteInstanceConnections,
  insertConnections,
  selectLiveConnections,
  type NewConnection,
} from "./connection-queries.js";
import { deleteInstance, deleteStaleInstances, heartbeatInstance, upsertInstance, type InstanceRow } from "./instance-queries.js";
import { markSeen, selectMcpPage, upsertMcp, type McpRow } from "./mcp-queries.js";
import {
  RegistryError,
  type ListRequest,
  type ListResult,
  type McpConnection,
  type McpRecord,
  type RegisterRequest,
  type RegisterResult,
  type RegistryCaller,
} from "./types.js";
import { checkCapabilityFilter, checkInfo, checkMcpId, checkPageSize, checkRouting } from "./validation.js";

/** Options for {@link Registry}. */
export interface RegistryOptions {
  /** This replica's id: unique among live replicas; reusing it after a restart is fine. */
  instanceId: string;
  /** The coordinator's version, recorded for operators. */
  version: string;
  /** How often last_seen and the replica heartbeat are written (ms). Default 5 s. */
  flushIntervalMs?: number;
  /**
   * A replica whose heartbeat is older than this is considered dead: its streams no longer count
   * as connected and its rows are deleted (ms). Default 30 s. Keep it several flush intervals long.
   */
  staleAfterMs?: number;
}

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

/** The registry of one coordinator replica. Call {@link start} before serving, {@link stop} after. */
export class Registry {
  /** This replica's id, as stored in coordinator_instances. */
  readonly instanceId: string;
  readonly #pool: Pool;
  readonly #log: Logger;
  readonly #instance: InstanceRow;
  readonly #flushIntervalMs: number;
  readonly #staleAfterMs: number;
  /** When this replica's registry started (GetStats: its counters count from then). */
  readonly startedAt = new Date();

  /** How long a replica may go without proving it is alive before its streams stop counting. */
  get staleAfterMs(): number {
    return this.#staleAfterMs;
  }
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

  /**
   * @param pool - the coordinator's pool.
   * @param logger - the coordinator's logger (a "registry" child is made).
   * @param options - identity and timings.
   */
  constructor(pool: Pool, logger: Logger, options: RegistryOptions) {
    this.#pool = pool;
    this.#log = logger.child({ component: "registry" });
    this.instanceId = options.instanceId;
    this.#instance = { instanceId: options.instanceId, hostname: os.hostname(), pid: process.pid, version: options.version };
    this.#flushIntervalMs = options.flushIntervalMs ?? 5_000;
    this.#staleAfterMs = options.staleAfterMs ?? 30_000;
  }

  /**
   * Records this replica, drops connection rows a previous run under the same id left behind,
   * and starts the periodic flush.
   *
   * @throws when the database cannot be written (the coordinator should not serve without it).
   */
  async start(): Promise<void> {
    await upsertInstance(this.#pool, this.#instance);
    const leftovers = await deleteInstanceConnections(this.#pool, this.instanceId);
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
      await deleteInstance(this.#pool, this.instanceId);
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
    const connection: NewConnection = { ...stream, coordinatorInstance: this.instanceId };
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
        const removed = await deleteStaleInstances(this.#pool, this.#staleAfterMs, this.instanceId);
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
      await deleteConnectionsExcept(this.#pool, this.instanceId, open.map((c) => c.streamId));
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

  /**
   * Creates or updates a registration (RegisterMcp). mcp keys register only their own MCP and may
   * not set routing or issue keys; admin keys may do all, and an empty id makes a new MCP.
   *
   * @throws RegistryError naming the field: kind "permission" for what the caller may not do,
   *   "invalid" for bad values. Permission is checked first, so a refused caller learns nothing
   *   about its values.
   */
  async register(request: RegisterRequest, caller: RegistryCaller): Promise<RegisterResult> {
    const mcpId = this.#targetMcpId(request, caller);
    checkMcpId(mcpId);
    const info = checkInfo(request.info);
    const routing = request.routing ? checkRouting(request.routing) : undefined;
    const { row, apiKey } = await withTransaction(this.#pool, async (client) => {
      const row = await upsertMcp(client, { mcpId, info, routing, seen: caller.role === "mcp" });
      if (!request.issueApiKey) return { row, apiKey: undefined };
      try {
        // Same transaction: a key for a registration that did not commit must not exist.
        const { token } = await createKey(client, { role: "mcp", mcpId, name: `issued by RegisterMcp (key ${caller.keyId})` });
        return { row, apiKey: token };
      } catch (error) {
        if (error instanceof KeyRequestError) throw new RegistryError("invalid", "mcp_id", `cannot issue a key for it: ${error.message}`);
        throw error;
      }
    });
    const { created, ...mcpRow } = row;
    const [mcp] = await this.#withConnections([mcpRow]);
    return { mcp: mcp!, created, apiKey };
  }

  #targetMcpId(request: RegisterRequest, caller: RegistryCaller): string {
    if (caller.role === "admin") return request.mcpId || `mcp-${randomBytes(8).toString("hex")}`;
    if (caller.role !== "mcp") {
      throw new RegistryError("permission", "mcp_id", `role ${caller.role} may not register MCPs (mcp keys for their own MCP, or admin keys)`);
    }
    if (!caller.mcpId) throw new RegistryError("permission", "mcp_id", `key ${caller.keyId} is not bound to an MCP`);
    if (request.mcpId && request.mcpId !== caller.mcpId) {
      throw new RegistryError("permission", "mcp_id", `key ${caller.keyId} acts as MCP "${caller.mcpId}" and may not register "${request.mcpId}"`);
    }
    if (request.routing) throw new RegistryError("permission", "routing", "only admin keys may set routing");
    if (request.issueApiKey) throw new RegistryError("permission", "issue_api_key", "only admin keys may issue API keys");
    return caller.mcpId;
  }

  /**
   * One page of MCPs ordered by mcp_id (ListMcps), with their live connections.
   *
   * @throws RegistryError (invalid) naming "page_size", "capability" or "page_token".
   */
  async list(request: ListRequest): Promise<ListResult> {
    const pageSize = checkPageSize(request.pageSize);
    checkCapabilityFilter(request.capability);
    const filters = { capability: request.capability, connectedOnly: request.connectedOnly };
    const after = decodePageToken(request.pageToken, filters);
    // One extra row says whether another page exists without a count query.
    const rows = await selectMcpPage(this.#pool, {
      after,
      capability: request.capability || undefined,
      connectedOnly: request.connectedOnly,
      limit: pageSize + 1,
      staleAfterMs: this.#staleAfterMs,
    });
    const page = rows.slice(0, pageSize);
    const last = page.at(-1);
    return {
      mcps: await this.#withConnections(page),
      nextPageToken: rows.length > pageSize && last ? encodePageToken(last.mcpId, filters) : "",
    };
  }

  async #withConnections(rows: McpRow[]): Promise<McpRecord[]> {
    if (rows.length === 0) return [];
    const byMcp = new Map<string, McpConnection[]>();
    for (const { mcpId, ...connection } of await selectLiveConnections(this.#pool, rows.map((row) => row.mcpId), this.#staleAfterMs)) {
      byMcp.set(mcpId, [...(byMcp.get(mcpId) ?? []), connection]);
    }
    return rows.map((row) => {
      const connections = byMcp.get(row.mcpId) ?? [];
      return { ...row, connected: connections.length > 0, connections };
    });
  }
}
