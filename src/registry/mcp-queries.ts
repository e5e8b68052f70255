/**
 * SQL for the mcps table: registrations, last_seen, and ListMcps pages. One function per statement.
 */
import type { Pool, PoolClient } from "pg";
import type { McpInfo, McpRecord, RoutingConfig } from "./types.js";

type Queryable = Pool | PoolClient;

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
