/**
 * SQL for the registry tables (mcps, coordinator_instances, mcp_connections): one function per
 * statement.
 */
import type { Pool, PoolClient } from "pg";
import type { McpConnection, McpInfo, McpRecord, RoutingConfig } from "./types.js";

type Queryable = Pool | PoolClient;

/** A coordinator replica's identity, as stored in coordinator_instances. */
export interface InstanceRow {
  instanceId: string;
  hostname: string;
  pid: number;
  version: string;
}

/** A connection row to write: one open stream on this replica. */
export interface NewConnection {
  streamId: string;
  mcpId: string;
  coordinatorInstance: string;
  instanceId: string;
  clientVersion: string;
}

interface DbMcpRow {
  mcp_id: string;
  name: string;
  version: string;
  type: string;
  description: string;
  environment: string;
  region: string;
  capabilities: string[];
  supported_formats: string[];
  endpoints: McpInfo["endpoints"];
  resources: Partial<{ cpu_cores: number; memory_mb: number; gpu_count: number; gpu_memory_mb: number }>;
  routing_priority: number;
  routing_weight: number;
  routing_max_concurrency: number;
  registered_at: Date;
  updated_at: Date;
  last_seen: Date | null;
}

interface DbConnectionRow {
  stream_id: string;
  mcp_id: string;
  coordinator_instance: string;
  instance_id: string;
  client_version: string;
  connected_at: Date;
}

const MCP_COLUMNS = `m.mcp_id, m.name, m.version, m.type, m.description, m.environment, m.region, m.capabilities,
  m.supported_formats, m.endpoints, m.resources, m.routing_priority, m.routing_weight, m.routing_max_concurrency,
  m.registered_at, m.updated_at, m.last_seen`;

/** An MCP row without its connections (the caller adds those). */
export type McpRow = Omit<McpRecord, "connected" | "connections">;

function toMcpRow(row: DbMcpRow): McpRow {
  const r = row.resources;
  return {
    mcpId: row.mcp_id,
    // An implicit registration stores only the id; RegisterMcp always stores a name.
    info: row.name === ""
      ? undefined
      : {
          name: row.name,
          version: row.version,
          type: row.type,
          capabilities: row.capabilities,
          supportedFormats: row.supported_formats,
          endpoints: row.endpoints,
          resources: { cpuCores: r.cpu_cores ?? 0, memoryMb: r.memory_mb ?? 0, gpuCount: r.gpu_count ?? 0, gpuMemoryMb: r.gpu_memory_mb ?? 0 },
          description: row.description,
          environment: row.environment,
          region: row.region,
        },
    routing: { priority: row.routing_priority, weight: row.routing_weight, maxConcurrency: row.routing_max_concurrency },
    registeredAt: row.registered_at,
    updatedAt: row.updated_at,
    lastSeen: row.last_seen ?? undefined,
  };
}

function toConnection(row: DbConnectionRow): McpConnection & { mcpId: string } {
  return {
    mcpId: row.mcp_id,
    streamId: row.stream_id,
    instanceId: row.instance_id,
    coordinatorInstance: row.coordinator_instance,
    connectedSince: row.connected_at,
    clientVersion: row.client_version,
  };
}

/** Records this replica as starting (again): a restart under the same id gets a fresh row. */
export async function upsertInstance(db: Queryable, instance: InstanceRow): Promise<void> {
  // Upsert, not insert: a replica restarted under the same instance id takes its row back.
  await db.query(
    `INSERT INTO coordinator_instances (instance_id, hostname, pid, version)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (instance_id) DO UPDATE
       SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, version = EXCLUDED.version,
           started_at = now(), last_seen = now()`,
    [instance.instanceId, instance.hostname, instance.pid, instance.version],
  );
}

/**
 * Proves this replica is alive. Re-creates its row if another replica judged it stale and deleted
 * it (a long pause, a database outage), so it stops being invisible.
 *
 * @returns true when the row had to be re-created (its connection rows were cascaded away).
 */
export async function heartbeatInstance(db: Queryable, instance: InstanceRow): Promise<boolean> {
  // xmax = 0 only on a freshly inserted row version: tells "re-created" from "updated" in one trip.
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO coordinator_instances (instance_id, hostname, pid, version)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (instance_id) DO UPDATE SET last_seen = now()
     RETURNING (xmax = 0) AS inserted`,
    [instance.instanceId, instance.hostname, instance.pid, instance.version],
  );
  return rows[0]?.inserted ?? false;
}

/** Deletes replicas that stopped proving they are alive (crashed); their connections cascade. */
export async function deleteStaleInstances(db: Queryable, staleAfterMs: number, selfId: string): Promise<string[]> {
  // Every replica runs this; it is idempotent, so no leader is needed. Never deletes itself: a
  // replica whose own heartbeat lagged is alive by definition and re-asserts itself instead.
  const { rows } = await db.query<{ instance_id: string }>(
    `DELETE FROM coordinator_instances
     WHERE last_seen < now() - $1 * interval '1 millisecond' AND instance_id <> $2
     RETURNING instance_id`,
    [staleAfterMs, selfId],
  );
  return rows.map((row) => row.instance_id);
}

/** Deletes this replica's row at a clean shutdown; its connection rows cascade. */
export async function deleteInstance(db: Queryable, instanceId: string): Promise<void> {
  await db.query("DELETE FROM coordinator_instances WHERE instance_id = $1", [instanceId]);
}

/** Deletes connection rows a previous run of this instance id left behind (it crashed). */
export async function deleteInstanceConnections(db: Queryable, instanceId: string): Promise<number> {
  // At start nothing is open yet, so every row under our id is a leftover.
  const result = await db.query("DELETE FROM mcp_connections WHERE coordinator_instance = $1", [instanceId]);
  return result.rowCount ?? 0;
}

/**
 * Records open streams, registering unknown MCPs implicitly (id only). Rows already present are
 * left alone, so this also re-writes a replica's streams after its rows were lost.
 */
export async function insertConnections(db: Queryable, connections: NewConnection[]): Promise<void> {
  // One statement for any number of streams (arrays + unnest); both inserts run in it, and
  // DO NOTHING keeps an existing registration untouched.
  await db.query(
    `WITH c AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         AS c(stream_id, mcp_id, coordinator_instance, instance_id, client_version)
     ), implicit AS (
       INSERT INTO mcps (mcp_id) SELECT DISTINCT mcp_id FROM c ON CONFLICT (mcp_id) DO NOTHING
     )
     INSERT INTO mcp_connections (stream_id, mcp_id, coordinator_instance, instance_id, client_version)
     SELECT stream_id, mcp_id, coordinator_instance, instance_id, client_version FROM c
     ON CONFLICT (stream_id) DO NOTHING`,
    [
      connections.map((c) => c.streamId),
      connections.map((c) => c.mcpId),
      connections.map((c) => c.coordinatorInstance),
      connections.map((c) => c.instanceId),
      connections.map((c) => c.clientVersion),
    ],
  );
}

/** Deletes the row of a stream that ended. */
export async function deleteConnection(db: Queryable, streamId: string): Promise<void> {
  await db.query("DELETE FROM mcp_connections WHERE stream_id = $1", [streamId]);
}

/** Deletes this replica's connection rows except those of the given (still open) streams. */
export async function deleteConnectionsExcept(db: Queryable, instanceId: string, openStreamIds: string[]): Promise<void> {
  // Repairs rows whose delete failed earlier (database hiccup at stream end).
  await db.query(
    "DELETE FROM mcp_connections WHERE coordinator_instance = $1 AND NOT (stream_id = ANY($2::text[]))",
    [instanceId, openStreamIds],
  );
}

/** Sets last_seen = now() for every MCP heard from since the previous flush. */
export async function markSeen(db: Queryable, mcpIds: string[]): Promise<void> {
  // One statement per flush, however many heartbeats arrived: the batching the contract promises.
  await db.query("UPDATE mcps SET last_seen = now() WHERE mcp_id = ANY($1::text[])", [mcpIds]);
}

/** What RegisterMcp writes. */
export interface McpUpsert {
  mcpId: string;
  info: McpInfo;
  /** undefined: keep the current routing (table defaults on insert). */
  routing: RoutingConfig | undefined;
  /** The MCP itself is calling: counts as hearing from it. */
  seen: boolean;
}

/** Creates or replaces a registration; keeps registered_at, and updated_at when nothing changed. */
export async function upsertMcp(db: Queryable, mcp: McpUpsert): Promise<McpRow & { created: boolean }> {
  // RegisterMcp is idempotent and MCPs call it at every start: updated_at moves only when a value
  // differs, so it keeps meaning "last changed". xmax = 0 tells an insert from an update.
  const { rows } = await db.query<DbMcpRow & { created: boolean }>(
    `INSERT INTO mcps AS m (mcp_id, name, version, type, description, environment, region, capabilities,
       supported_formats, endpoints, resources, routing_priority, routing_weight, routing_max_concurrency, last_seen)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9::text[], $10::jsonb, $11::jsonb,
       COALESCE($12::integer, 0), COALESCE($13::double precision, 1), COALESCE($14::integer, 0),
       CASE WHEN $15::boolean THEN now() END)
     ON CONFLICT (mcp_id) DO UPDATE SET
       name = EXCLUDED.name, version = EXCLUDED.version, type = EXCLUDED.type,
       description = EXCLUDED.description, environment = EXCLUDED.environment, region = EXCLUDED.region,
       capabilities = EXCLUDED.capabilities, supported_formats = EXCLUDED.supported_formats,
       endpoints = EXCLUDED.endpoints, resources = EXCLUDED.resources,
       routing_priority = COALESCE($12::integer, m.routing_priority),
       routing_weight = COALESCE($13::double precision, m.routing_weight),
       routing_max_concurrency = COALESCE($14::integer, m.routing_max_concurrency),
       updated_at = CASE
         WHEN (m.name, m.version, m.type, m.description, m.environment, m.region, m.capabilities,
               m.supported_formats, m.endpoints, m.resources,
               m.routing_priority, m.routing_weight, m.routing_max_concurrency)
           IS DISTINCT FROM
              (EXCLUDED.name, EXCLUDED.version, EXCLUDED.type, EXCLUDED.description, EXCLUDED.environment,
               EXCLUDED.region, EXCLUDED.capabilities, EXCLUDED.supported_formats, EXCLUDED.endpoints,
               EXCLUDED.resources, COALESCE($12::integer, m.routing_priority),
               COALESCE($13::double precision, m.routing_weight), COALESCE($14::integer, m.routing_max_concurrency))
         THEN now() ELSE m.updated_at END,
       last_seen = CASE WHEN $15::boolean THEN now() ELSE m.last_seen END
     RETURNING ${MCP_COLUMNS}, (xmax = 0) AS created`,
    [
      mcp.mcpId,
      mcp.info.name,
      mcp.info.version,
      mcp.info.type,
      mcp.info.description,
      mcp.info.environment,
      mcp.info.region,
      mcp.info.capabilities,
      mcp.info.supportedFormats,
      // Stringified by hand: pg would turn a JS array into a Postgres array, not JSON.
      JSON.stringify(mcp.info.endpoints.map((e) => ({ name: e.name, url: e.url, protocol: e.protocol }))),
      JSON.stringify({
        cpu_cores: mcp.info.resources.cpuCores,
        memory_mb: mcp.info.resources.memoryMb,
        gpu_count: mcp.info.resources.gpuCount,
        gpu_memory_mb: mcp.info.resources.gpuMemoryMb,
      }),
      mcp.routing?.priority ?? null,
      mcp.routing?.weight ?? null,
      mcp.routing?.maxConcurrency ?? null,
      mcp.seen,
    ],
  );
  const row = rows[0]!;
  return { ...toMcpRow(row), created: row.created };
}

/** Filters and position of one ListMcps page. */
export interface McpPageQuery {
  /** Continue after this mcp_id; undefined: from the start. */
  after: string | undefined;
  /** Only MCPs listing this capability; undefined: any. */
  capability: string | undefined;
  connectedOnly: boolean;
  limit: number;
  staleAfterMs: number;
}

/** One page of MCPs ordered by mcp_id (keyset pagination: stable under concurrent inserts). */
export async function selectMcpPage(db: Queryable, page: McpPageQuery): Promise<McpRow[]> {
  // Keyset on the primary key instead of OFFSET: each page costs the same and no row is skipped
  // or repeated when MCPs register between pages. "@> ARRAY[...]" is what the GIN index serves.
  // "Connected" counts only streams of replicas that proved they are alive recently.
  const { rows } = await db.query<DbMcpRow>(
    `SELECT ${MCP_COLUMNS} FROM mcps m
     WHERE ($1::text IS NULL OR m.mcp_id > $1)
       AND ($2::text IS NULL OR m.capabilities @> ARRAY[$2::text])
       AND (NOT $3::boolean OR EXISTS (
         SELECT 1 FROM mcp_connections c
         JOIN coordinator_instances i ON i.instance_id = c.coordinator_instance
         WHERE c.mcp_id = m.mcp_id AND i.last_seen >= now() - $5 * interval '1 millisecond'))
     ORDER BY m.mcp_id
     LIMIT $4`,
    [page.after ?? null, page.capability ?? null, page.connectedOnly, page.limit, page.staleAfterMs],
  );
  return rows.map(toMcpRow);
}

/** Open streams of the given MCPs on live replicas, oldest first. */
export async function selectLiveConnections(
  db: Queryable,
  mcpIds: string[],
  staleAfterMs: number,
): Promise<(McpConnection & { mcpId: string })[]> {
  // Rows of a crashed replica linger until some replica's cleanup runs; the freshness join hides
  // them meanwhile, so "connected" is never claimed on a dead replica's word.
  const { rows } = await db.query<DbConnectionRow>(
    `SELECT c.stream_id, c.mcp_id, c.coordinator_instance, c.instance_id, c.client_version, c.connected_at
     FROM mcp_connections c
     JOIN coordinator_instances i ON i.instance_id = c.coordinator_instance
     WHERE c.mcp_id = ANY($1::text[]) AND i.last_seen >= now() - $2 * interval '1 millisecond'
     ORDER BY c.connected_at, c.stream_id`,
    [mcpIds, staleAfterMs],
  );
  return rows.map(toConnection);
}
