/**
 * The MCP registry: registrations (RegisterMcp, ListMcps), which streams are open on which
 * coordinator replica, and when each MCP was last heard from.
 *
 * Postgres holds all of it, so every replica sees the same registry. This replica's part of it
 * (heartbeat, connection rows, batched last_seen) is kept by ReplicaPresence (presence.ts).
 */
import { randomBytes } from "node:crypto";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { createKey, KeyRequestError } from "../auth/keys.js";
import { withTransaction } from "../store/transaction.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { selectLiveConnections } from "./connection-queries.js";
import { selectMcpPage, upsertMcp, type McpRow } from "./mcp-queries.js";
import { ReplicaPresence, type OpenedStream } from "./presence.js";
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

export type { OpenedStream } from "./presence.js";

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

/** The registry of one coordinator replica. Call {@link start} before serving, {@link stop} after. */
export class Registry {
  /** This replica's id, as stored in coordinator_instances. */
  readonly instanceId: string;
  readonly #pool: Pool;
  readonly #staleAfterMs: number;
  readonly #presence: ReplicaPresence;
  /** When this replica's registry started (GetStats: its counters count from then). */
  readonly startedAt = new Date();

  /** How long a replica may go without proving it is alive before its streams stop counting. */
  get staleAfterMs(): number {
    return this.#staleAfterMs;
  }

  /**
   * @param pool - the coordinator's pool.
   * @param logger - the coordinator's logger (a "registry" child is made).
   * @param options - identity and timings.
   */
  constructor(pool: Pool, logger: Logger, options: RegistryOptions) {
    this.#pool = pool;
    this.instanceId = options.instanceId;
    this.#staleAfterMs = options.staleAfterMs ?? 30_000;
    this.#presence = new ReplicaPresence(pool, logger.child({ component: "registry" }), {
      instanceId: options.instanceId,
      version: options.version,
      flushIntervalMs: options.flushIntervalMs ?? 5_000,
      staleAfterMs: this.#staleAfterMs,
    });
  }

  /** Records this replica and starts the periodic flush (see presence.ts). @throws when the database cannot be written. */
  start(): Promise<void> {
    return this.#presence.start();
  }

  /** Stops the flush, writes the last batch of last_seen, and deletes this replica's rows. */
  stop(): Promise<void> {
    return this.#presence.stop();
  }

  /** Records an open stream (see ReplicaPresence.streamOpened). */
  streamOpened(stream: OpenedStream): Promise<void> {
    return this.#presence.streamOpened(stream);
  }

  /** Removes a stream's connection row (see ReplicaPresence.streamClosed). */
  streamClosed(streamId: string): Promise<void> {
    return this.#presence.streamClosed(streamId);
  }

  /** Marks an MCP as heard from now; written at the next flush. */
  touch(mcpId: string): void {
    this.#presence.touch(mcpId);
  }

  /** Writes what is pending now (see ReplicaPresence.flush); never throws. */
  flush(): Promise<void> {
    return this.#presence.flush();
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
