/**
 * The writer's SQL: one prepared statement stores a whole batch. It inserts the dedupe keys, the
 * events whose keys were new, and merges those events into their interactions' summary rows,
 * queues the minutes whose rollups the batch changed (rollups/), announces the events to the live
 * tails when someone watches (watch/channel.ts), and returns the keys it stored. One statement is
 * one implicit transaction (atomic) and one round trip; being prepared, it is planned once per
 * connection.
 */
import type { Pool, PoolClient } from "pg";
import { VERSION } from "../version.js";
import { queueFinishedMinutesSql } from "./rollups/rollup-queries.js";
import type { Contribution } from "./summary.js";
import { EVENTS_CHANNEL, NOTIFY_CHUNK_BYTES } from "./watch/channel.js";

/** One event row as the writer hands it to the database. */
export interface EventRow extends Contribution {
  mcpId: string;
  eventId: string;
  interactionId: string;
  sessionId: string;
  kind: number;
  occurredAtMs: number;
  streamId: string | null;
  seq: bigint | null;
  payload: Uint8Array;
}

// Orders that pick each group's winner, with event_id compared as bytes ("C") so the winner is
// the same on every server whatever its default collation.
const STARTED_ORDER = `occurred_at, event_id COLLATE "C"`; // the earliest STARTED
const PROGRESS_ORDER = `occurred_at DESC, event_id COLLATE "C" DESC`; // the latest PROGRESS
const TERMINAL_ORDER = `kind DESC, occurred_at DESC, event_id COLLATE "C" DESC`; // FAILED(4) over COMPLETED(3), then latest

// The winning row of each role: its kind matches and it ranks first (see "ranked" below).
const STARTED = "kind = 1 AND started_rank = 1";
const PROGRESS = "kind = 2 AND progress_rank = 1";
const TERMINAL = "kind IN (3, 4) AND terminal_rank = 1";

/** The value of `column` in the group's one row matching `winnerFilter` (NULL when none does). */
function pick(column: string, winnerFilter: string): string {
  // At most one row matches, so array_agg needs no ORDER BY (no per-group sort).
  return `(array_agg(${column}) FILTER (WHERE ${winnerFilter}))[1]`;
}

// Merging a batch's delta (EXCLUDED) into the stored row (i): the same rules between rows.
// SET expressions all see the old row, so every column of a group can repeat the condition.
const STARTED_COLUMNS = ["started_at", "started_event_id", "started_session_id", "request_type", "user_id"];
const STARTED_WINS = `EXCLUDED.started_event_id IS NOT NULL AND (i.started_event_id IS NULL
  OR (EXCLUDED.started_at, EXCLUDED.started_event_id COLLATE "C") < (i.started_at, i.started_event_id COLLATE "C"))`;
const PROGRESS_COLUMNS = ["last_progress_at", "last_progress_event_id", "last_progress"];
const PROGRESS_WINS = `EXCLUDED.last_progress_event_id IS NOT NULL AND (i.last_progress_event_id IS NULL
  OR (EXCLUDED.last_progress_at, EXCLUDED.last_progress_event_id COLLATE "C") > (i.last_progress_at, i.last_progress_event_id COLLATE "C"))`;
const TERMINAL_COLUMNS = ["terminal_kind", "ended_at", "terminal_event_id", "success", "error_code", "error_message", "reported_processing_ms"];
const TERMINAL_WINS = `EXCLUDED.terminal_kind IS NOT NULL AND (i.terminal_kind IS NULL
  OR (EXCLUDED.terminal_kind, EXCLUDED.ended_at, EXCLUDED.terminal_event_id COLLATE "C")
   > (i.terminal_kind, i.ended_at, i.terminal_event_id COLLATE "C"))`;

function winnerTakes(columns: readonly string[], condition: string): string {
  return columns.map((c) => `${c} = CASE WHEN ${condition} THEN EXCLUDED.${c} ELSE i.${c} END`).join(",\n      ");
}

/** The statement; `queueRollups` false leaves out the rollup queue (see {@link StoreOptions}). */
const storeBatchSql = (queueRollups: boolean) => `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int2[], $6::float8[], $7::text[],
                         $8::int8[], $9::bytea[], $10::text[], $11::text[], $12::bytea[], $13::bool[], $14::text[],
                         $15::text[], $16::float8[])
      AS t(mcp_id, event_id, interaction_id, session_id, kind, occurred_ms, stream_id, seq, payload,
           request_type, user_id, progress, success, error_code, error_message, reported_ms)
  ),
  -- The dedupe key first: ON CONFLICT DO NOTHING returns only the keys that were new. Sorted, so
  -- batches with overlapping keys lock them in the same order (no deadlock).
  new_keys AS (
    INSERT INTO interaction_event_keys (mcp_id, event_id, received_at)
    SELECT mcp_id, event_id, now() FROM input ORDER BY mcp_id COLLATE "C", event_id COLLATE "C"
    ON CONFLICT DO NOTHING
    RETURNING mcp_id, event_id
  ),
  fresh AS (
    SELECT i.*, to_timestamp(i.occurred_ms / 1000) AS occurred_at FROM input i JOIN new_keys USING (mcp_id, event_id)
  ),
  -- Only new events enter the append-only log.
  stored AS (
    INSERT INTO interaction_events (received_at, mcp_id, event_id, interaction_id, session_id, kind, occurred_at, stream_id, seq, payload, coordinator_version)
    SELECT now(), mcp_id, event_id, interaction_id, session_id, kind, occurred_at, stream_id, seq, payload, $18::text FROM fresh
  ),
  -- Each new event's rank among its interaction's events of the same summary role, by that role's
  -- order: rank 1 is the role's winner in this batch.
  ranked AS (
    SELECT *,
      row_number() OVER (PARTITION BY mcp_id, interaction_id, kind = 1 ORDER BY ${STARTED_ORDER}) AS started_rank,
      row_number() OVER (PARTITION BY mcp_id, interaction_id, kind = 2 ORDER BY ${PROGRESS_ORDER}) AS progress_rank,
      row_number() OVER (PARTITION BY mcp_id, interaction_id, kind IN (3, 4) ORDER BY ${TERMINAL_ORDER}) AS terminal_rank
    FROM fresh
  ),
  -- The batch's new events, folded per interaction with the summary rules.
  deltas AS (
    SELECT mcp_id, interaction_id,
      max(session_id COLLATE "C") AS any_session_id,
      min(occurred_at) AS first_event_at,
      max(occurred_at) AS last_event_at,
      count(*)::int AS event_count,
      ${pick("occurred_at", STARTED)} AS started_at,
      ${pick("event_id", STARTED)} AS started_event_id,
      ${pick("session_id", STARTED)} AS started_session_id,
      ${pick("request_type", STARTED)} AS request_type,
      ${pick("user_id", STARTED)} AS user_id,
      (count(*) FILTER (WHERE kind = 2))::int AS progress_count,
      ${pick("occurred_at", PROGRESS)} AS last_progress_at,
      ${pick("event_id", PROGRESS)} AS last_progress_event_id,
      ${pick("progress", PROGRESS)} AS last_progress,
      ${pick("kind", TERMINAL)} AS terminal_kind,
      ${pick("occurred_at", TERMINAL)} AS ended_at,
      ${pick("event_id", TERMINAL)} AS terminal_event_id,
      ${pick("success", TERMINAL)} AS success,
      ${pick("error_code", TERMINAL)} AS error_code,
      ${pick("error_message", TERMINAL)} AS error_message,
      ${pick("reported_ms", TERMINAL)} AS reported_processing_ms
    FROM ranked
    GROUP BY mcp_id, interaction_id
  ),
  -- Merged into the stored rows; sorted, so concurrent batches lock rows in the same order.
  summaries AS (
    INSERT INTO interactions AS i (
      mcp_id, interaction_id, any_session_id, started_session_id, first_event_at, last_event_at,
      first_seen_at, last_seen_at, event_count, started_at, started_event_id, request_type, user_id,
      progress_count, last_progress_at, last_progress_event_id, last_progress,
      terminal_kind, ended_at, terminal_event_id, success, error_code, error_message, reported_processing_ms)
    SELECT mcp_id, interaction_id, any_session_id, COALESCE(started_session_id, ''), first_event_at, last_event_at,
      now(), now(), event_count, started_at, started_event_id, COALESCE(request_type, ''), COALESCE(user_id, ''),
      progress_count, last_progress_at, last_progress_event_id, last_progress,
      terminal_kind, ended_at, terminal_event_id, success, COALESCE(error_code, ''), COALESCE(error_message, ''), reported_processing_ms
    FROM deltas
    ORDER BY mcp_id COLLATE "C", interaction_id COLLATE "C"
    ON CONFLICT (mcp_id, interaction_id) DO UPDATE SET
      any_session_id = GREATEST(i.any_session_id COLLATE "C", EXCLUDED.any_session_id COLLATE "C"),
      first_event_at = LEAST(i.first_event_at, EXCLUDED.first_event_at),
      last_event_at = GREATEST(i.last_event_at, EXCLUDED.last_event_at),
      first_seen_at = LEAST(i.first_seen_at, EXCLUDED.first_seen_at),
      last_seen_at = GREATEST(i.last_seen_at, EXCLUDED.last_seen_at),
      event_count = i.event_count + EXCLUDED.event_count,
      ${winnerTakes(STARTED_COLUMNS, STARTED_WINS)},
      progress_count = i.progress_count + EXCLUDED.progress_count,
      ${winnerTakes(PROGRESS_COLUMNS, PROGRESS_WINS)},
      ${winnerTakes(TERMINAL_COLUMNS, TERMINAL_WINS)}
    ${queueRollups ? "RETURNING mcp_id, ended_at" : ""}
  ),
  ${queueRollups ? ROLLUP_QUEUE_CTE : ""}
  -- The live tail (WatchInteractions, see watch/channel.ts): only when $17 says someone watches,
  -- a reference to each new event (never a duplicate), in the order the events happened; with
  -- occurred_at, so the reader finds each event with one probe of the interaction index. When $17
  -- is false this is a one-time filter and nothing below it runs.
  refs AS (
    SELECT json_build_array(mcp_id, interaction_id, event_id, kind, occurred_at) AS ref,
      row_number() OVER (ORDER BY occurred_at, event_id COLLATE "C") AS n
    FROM fresh
    WHERE $17::bool
  ),
  -- Packed into notifications by byte offset (each payload stays under Postgres's 8,000 bytes),
  -- each with the batch's received_at (now(): every row of the batch has it) so the reader prunes
  -- partitions. NOTIFY is sent at commit only, so watchers never see an event that rolled back.
  announced AS (
    SELECT pg_notify('${EVENTS_CHANNEL}', json_build_object('t', now(), 'e', json_agg(ref ORDER BY n))::text)
    FROM (
      SELECT ref, n, (sum(octet_length(ref::text) + 1) OVER (ORDER BY n) - octet_length(ref::text) - 1) / ${NOTIFY_CHUNK_BYTES} AS chunk
      FROM refs
    ) chunked
    GROUP BY chunk
  )
  -- A CTE that only SELECTs runs only when referenced: the count makes "announced" run whole.
  SELECT mcp_id, event_id FROM new_keys WHERE (SELECT count(*) FROM announced) >= 0`;

// The rollup job's queue (rollups/rollup-job.ts; migrations 0005, 0008 and 0009): the minute (of
// ended_at) of every finished summary the batch changed, once per (MCP, minute). Why here rather
// than in a trigger: statement triggers with transition tables copied every changed summary (old
// and new) and cost PostgreSQL 3 to 5 µs per event; this reads the rows the upsert returns. It
// queues a little more than needed (a progress event of a finished interaction changes no
// figure) and nothing less. The minute a summary leaves when a later terminal event wins is
// queued by the row trigger interactions_rollup_moved (migration 0009): only an UPDATE knows it.
const ROLLUP_QUEUE_CTE = `queued AS (
    ${queueFinishedMinutesSql("summaries")}
  ),`;
const STORE_BATCH_SQL = storeBatchSql(true);
const STORE_BATCH_SQL_UNQUEUED = storeBatchSql(false);

/** How {@link storeBatch} stores. */
export interface StoreOptions {
  /** Notify the live tails of the new events (someone watches). Default false. */
  announce?: boolean;
  /**
   * Queue the changed minutes for the rollup job. Default true; false only to measure what the
   * rollups cost at ingest (bench:queries' "off" setting): without it the rollups go stale.
   */
  queueRollups?: boolean;
}

/**
 * Stores a batch (rows unique by (mcp_id, event_id): the writer removes in-batch repeats first)
 * and returns the keys that were new, i.e. stored now; the others were stored before.
 */
export async function storeBatch(db: Pool | PoolClient, rows: readonly EventRow[], options: StoreOptions = {}): Promise<Set<string>> {
  const { announce = false, queueRollups = true } = options;
  const { rows: stored } = await db.query<{ mcp_id: string; event_id: string }>({
    // Named: parsed and planned once per connection, not once per batch.
    name: queueRollups ? "mcpc_store_batch_v4" : "mcpc_store_batch_v4_unqueued",
    text: queueRollups ? STORE_BATCH_SQL : STORE_BATCH_SQL_UNQUEUED,
    values: [
      rows.map((r) => r.mcpId),
      rows.map((r) => r.eventId),
      rows.map((r) => r.interactionId),
      rows.map((r) => r.sessionId),
      rows.map((r) => r.kind),
      rows.map((r) => r.occurredAtMs),
      rows.map((r) => r.streamId),
      rows.map((r) => (r.seq === null ? null : r.seq.toString())),
      rows.map((r) => r.payload),
      rows.map((r) => r.requestType),
      rows.map((r) => r.userId),
      rows.map((r) => r.progress),
      rows.map((r) => r.success),
      rows.map((r) => r.errorCode),
      rows.map((r) => r.errorMessage),
      rows.map((r) => r.reportedProcessingMs),
      announce,
      VERSION,
    ],
  });
  return new Set(stored.map((row) => eventKey(row.mcp_id, row.event_id)));
}

/** The in-memory form of an event's dedupe key. */
export function eventKey(mcpId: string, eventId: string): string {
  return `${mcpId}\u0000${eventId}`;
}

/** Creates the monthly event partitions from this month on that do not exist yet. */
export async function ensureEventPartitions(db: Pool | PoolClient, monthsAhead: number): Promise<number> {
  // Why: partitions are created ahead of need (this month and the next ones), so inserts never
  // land in the default partition and retention can later drop whole months.
  const { rows } = await db.query<{ created: number }>("SELECT ensure_interaction_event_partitions(current_date, $1) AS created", [monthsAhead + 1]);
  return rows[0]?.created ?? 0;
}
