/**
 * SQL for mcp_connections: the open StreamInteractions streams of every replica. One function per
 * statement.
 */
import type { Pool, PoolClient } from "pg";
import type { McpConnection } from "./types.js";

type Queryable = Pool | PoolClient;

/** A connection row to write: one open stream on this replica. */
export interface NewConnection {
  streamId: string;
  mcpId: string;
  coordinatorInstance: string;
  instanceId: string;
  clientVersion: string;
}

interface DbConnectionRow {
  stream_id: string;
  mcp_id: string;
  coordinator_instance: string;
  instance_id: string;
  client_version: string;
  connected_at: Date;
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
