/**
 * SQL of RankMcps: the candidate MCPs with their routing settings, whether they are connected and
 * how many interactions they are running now.
 */
import type { Pool, PoolClient } from "pg";

/** One MCP offering the capability. */
export interface CandidateRow {
  mcp_id: string;
  name: string;
  routing_priority: number;
  routing_weight: number;
  routing_max_concurrency: number;
  connected: boolean;
  active: string;
}

/**
 * The MCPs listing `capability` (connected ones only unless `includeDisconnected`), at most
 * `limit`, ordered by mcp_id.
 *
 * @param windowMs - running interactions count only if an event of theirs arrived this recently.
 * @param staleAfterMs - a replica that has not proved it is alive for this long holds no
 *   connections.
 */
export async function selectCandidates(
  db: Pool | PoolClient,
  query: { capability: string; includeDisconnected: boolean; windowMs: number; staleAfterMs: number; limit: number },
): Promise<CandidateRow[]> {
  // Why "@> ARRAY[...]": it is what the GIN index on capabilities serves. Running interactions are
  // found through interactions (mcp_id, ended_at), where unfinished ones (NULL) sort together;
  // the window keeps abandoned interactions from counting as load forever.
  const { rows } = await db.query<CandidateRow>(
    `SELECT c.*, (
         SELECT count(*) FROM interactions i
         WHERE i.mcp_id = c.mcp_id AND i.ended_at IS NULL AND i.last_seen_at >= now() - $3 * interval '1 millisecond'
       )::text AS active
     FROM (
       SELECT m.mcp_id, m.name, m.routing_priority, m.routing_weight, m.routing_max_concurrency,
         EXISTS (
           SELECT 1 FROM mcp_connections mc JOIN coordinator_instances ci ON ci.instance_id = mc.coordinator_instance
           WHERE mc.mcp_id = m.mcp_id AND ci.last_seen >= now() - $4 * interval '1 millisecond'
         ) AS connected
       FROM mcps m
       WHERE m.capabilities @> ARRAY[$1::text]
     ) c
     WHERE $2::boolean OR c.connected
     ORDER BY c.mcp_id
     LIMIT $5`,
    [query.capability, query.includeDisconnected, query.windowMs, query.staleAfterMs, query.limit],
  );
  return rows;
}
