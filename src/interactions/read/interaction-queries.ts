/**
 * SQL of the interaction read side: one function per query.
 */
import type { Pool, PoolClient } from "pg";

type Queryable = Pool | PoolClient;

/** An interactions row as the read side selects it. */
export interface InteractionRow {
  mcp_id: string;
  interaction_id: string;
  session_id: string;
  status: number;
  request_type: string;
  user_id: string;
  started_at: Date | null;
  ended_at: Date | null;
  first_event_at: Date;
  last_event_at: Date;
  first_seen_at: Date;
  /** first_seen_at with microseconds, for page tokens (a Date keeps milliseconds only). */
  first_seen_text: string;
  processing_ms: number | null;
  success: boolean | null;
  error_code: string;
  error_message: string;
  progress_count: number;
  last_progress: Buffer | null;
  event_count: number;
}

const INTERACTION_COLUMNS = `mcp_id, interaction_id, session_id, status, request_type, user_id, started_at, ended_at,
  first_event_at, last_event_at, first_seen_at, first_seen_at::text AS first_seen_text, processing_ms, success,
  error_code, error_message, progress_count, last_progress, event_count`;

/**
 * The summaries of `interactionId`: of one MCP when `mcpId` is given, else of every MCP that used
 * the id (at most `limit`, to tell "one" from "several").
 */
export async function findInteractions(db: Queryable, interactionId: string, mcpId: string, limit: number): Promise<InteractionRow[]> {
  // Why two statements: with mcp_id the primary key answers; without, the interaction_id index.
  const { rows } = mcpId
    ? await db.query<InteractionRow>(`SELECT ${INTERACTION_COLUMNS} FROM interactions WHERE mcp_id = $1 AND interaction_id = $2`, [mcpId, interactionId])
    : await db.query<InteractionRow>(`SELECT ${INTERACTION_COLUMNS} FROM interactions WHERE interaction_id = $1 ORDER BY mcp_id LIMIT $2`, [
        interactionId,
        limit,
      ]);
  return rows;
}

/** A stored event as the read side selects it. */
export interface EventRow {
  received_at: Date;
  payload: Buffer;
  coordinator_version: string;
}

/** Every stored event of one interaction, in the order they happened (ties: arrival, then id). */
export async function listInteractionEvents(db: Queryable, mcpId: string, interactionId: string): Promise<EventRow[]> {
  // Why this order: occurred_at is the MCP's clock, the order a reader expects; received_at and
  // event_id make it total, so two reads list the same events the same way.
  const { rows } = await db.query<EventRow>(
    `SELECT received_at, payload, coordinator_version FROM interaction_events
     WHERE mcp_id = $1 AND interaction_id = $2
     ORDER BY occurred_at, received_at, event_id`,
    [mcpId, interactionId],
  );
  return rows;
}

/** ListInteractions' filters, checked. */
export interface InteractionFilter {
  mcpId: string;
  status: number;
  from: Date | undefined;
  to: Date | undefined;
  requestType: string;
  success: boolean | undefined;
  sessionId: string;
}

/** Where the previous page ended: the last row's keyset position. */
export interface InteractionPosition {
  firstSeenAt: string;
  mcpId: string;
  interactionId: string;
}

/** One page of summaries matching `filter`, newest first, after `after` (exclusive). */
export async function listInteractionPage(db: Queryable, filter: InteractionFilter, after: InteractionPosition | undefined, limit: number): Promise<InteractionRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  if (filter.mcpId) where.push(`mcp_id = ${param(filter.mcpId)}`);
  if (filter.status) where.push(`status = ${param(filter.status)}`);
  if (filter.from) where.push(`first_seen_at >= ${param(filter.from)}`);
  if (filter.to) where.push(`first_seen_at < ${param(filter.to)}`);
  if (filter.requestType) where.push(`request_type = ${param(filter.requestType)}`);
  if (filter.success !== undefined) where.push(`success = ${param(filter.success)}`);
  if (filter.sessionId) where.push(`session_id = ${param(filter.sessionId)}`);
  if (after) {
    // Why a row comparison: it is the keyset condition the (first_seen_at, mcp_id,
    // interaction_id) DESC indexes answer directly, without OFFSET.
    where.push(`(first_seen_at, mcp_id, interaction_id) < (${param(after.firstSeenAt)}::timestamptz, ${param(after.mcpId)}, ${param(after.interactionId)})`);
  }
  const { rows } = await db.query<InteractionRow>(
    `SELECT ${INTERACTION_COLUMNS} FROM interactions
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY first_seen_at DESC, mcp_id DESC, interaction_id DESC
     LIMIT ${param(limit)}`,
    params,
  );
  return rows;
}
