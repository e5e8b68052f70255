/**
 * GetStats' totals from the database, over every replica.
 */
import type { Pool } from "pg";

/** The totals, as numbers (counts fit in a double long before they matter). */
export interface DatabaseTotals {
  eventsStored: number;
  interactionsTotal: number;
  interactionsActive: number;
  interactionsCompleted: number;
  interactionsFailed: number;
  /** Mean processing time of finished interactions (ms); null when there is none. */
  avgProcessingMs: number | null;
  mcpsRegistered: number;
  mcpsConnected: number;
}

/**
 * Reads the totals.
 *
 * @param staleAfterMs - a replica that has not proved it is alive for this long does not count
 *   as holding its MCPs' streams (as in ListMcps).
 */
export async function databaseTotals(pool: Pool, staleAfterMs: number): Promise<DatabaseTotals> {
  // Why one pass over interactions: every figure but the MCP counts comes from the summary rows
  // (event_count adds up to the stored events), so the event log itself is never scanned.
  const { rows } = await pool.query<{
    events: string;
    total: string;
    active: string;
    completed: string;
    failed: string;
    avg_ms: number | null;
    registered: string;
    connected: string;
  }>(
    `SELECT coalesce(sum(event_count), 0)::text AS events,
            count(*)::text AS total,
            count(*) FILTER (WHERE status IN (1, 2))::text AS active,
            count(*) FILTER (WHERE status = 3)::text AS completed,
            count(*) FILTER (WHERE status = 4)::text AS failed,
            avg(processing_ms) FILTER (WHERE status IN (3, 4)) AS avg_ms,
            (SELECT count(*) FROM mcps)::text AS registered,
            (SELECT count(DISTINCT c.mcp_id) FROM mcp_connections c
               JOIN coordinator_instances i ON i.instance_id = c.coordinator_instance
              WHERE i.last_seen >= now() - $1 * interval '1 millisecond')::text AS connected
       FROM interactions`,
    [staleAfterMs],
  );
  const row = rows[0]!;
  return {
    eventsStored: Number(row.events),
    interactionsTotal: Number(row.total),
    interactionsActive: Number(row.active),
    interactionsCompleted: Number(row.completed),
    interactionsFailed: Number(row.failed),
    avgProcessingMs: row.avg_ms,
    mcpsRegistered: Number(row.registered),
    mcpsConnected: Number(row.connected),
  };
}
