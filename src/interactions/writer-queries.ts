/**
 * SQL of the group-commit writer: one statement stores a batch of events (deduplicated), one
 * merges the batch's summary deltas. Both take whole batches as arrays (unnest), so a batch of a
 * thousand events costs two round trips, not a thousand.
 */
import type { PoolClient } from "pg";
import type { SummaryDelta } from "./summary.js";

/** One event row as the writer hands it to the database. */
export interface EventRow {
  mcpId: string;
  eventId: string;
  interactionId: string;
  sessionId: string;
  kind: number;
  occurredAt: number;
  streamId: string | null;
  seq: bigint | null;
  payload: Uint8Array;
}

/**
 * Inserts the events whose (mcp_id, event_id) was never stored, and returns the keys it stored.
 * Rows must be unique by key within the batch (the writer removes in-batch repeats first).
 */
export async function insertNewEvents(client: PoolClient, rows: readonly EventRow[]): Promise<Set<string>> {
  // Why: the dedupe key goes first (ON CONFLICT DO NOTHING returns only the keys that were new),
  // and only those rows enter the event log, all in one statement. Keys are inserted in sorted
  // order so two batches with overlapping keys lock them in the same order (no deadlock).
  const { rows: stored } = await client.query<{ mcp_id: string; event_id: string }>(
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int2[], $6::timestamptz[],
                            $7::text[], $8::int8[], $9::bytea[])
         AS t(mcp_id, event_id, interaction_id, session_id, kind, occurred_at, stream_id, seq, payload)
     ),
     new_keys AS (
       INSERT INTO interaction_event_keys (mcp_id, event_id, received_at)
       SELECT mcp_id, event_id, now() FROM input ORDER BY mcp_id COLLATE "C", event_id COLLATE "C"
       ON CONFLICT DO NOTHING
       RETURNING mcp_id, event_id
     ),
     stored AS (
       INSERT INTO interaction_events
         (received_at, mcp_id, event_id, interaction_id, session_id, kind, occurred_at, stream_id, seq, payload)
       SELECT now(), i.mcp_id, i.event_id, i.interaction_id, i.session_id, i.kind, i.occurred_at, i.stream_id, i.seq, i.payload
       FROM input i JOIN new_keys k USING (mcp_id, event_id)
     )
     SELECT mcp_id, event_id FROM new_keys`,
    [
      rows.map((r) => r.mcpId),
      rows.map((r) => r.eventId),
      rows.map((r) => r.interactionId),
      rows.map((r) => r.sessionId),
      rows.map((r) => r.kind),
      rows.map((r) => new Date(r.occurredAt).toISOString()),
      rows.map((r) => r.streamId),
      rows.map((r) => (r.seq === null ? null : r.seq.toString())),
      rows.map((r) => r.payload),
    ],
  );
  return new Set(stored.map((row) => eventKey(row.mcp_id, row.event_id)));
}

/** The in-memory form of an event's dedupe key. */
export function eventKey(mcpId: string, eventId: string): string {
  return `${mcpId}\u0000${eventId}`;
}

// The STARTED winner is the earliest (occurred_at, event_id): its columns move together.
const STARTED_COLUMNS = ["started_at", "started_event_id", "started_session_id", "request_type", "user_id"];
const STARTED_WINS = `EXCLUDED.started_event_id IS NOT NULL AND (i.started_event_id IS NULL
  OR (EXCLUDED.started_at, EXCLUDED.started_event_id COLLATE "C") < (i.started_at, i.started_event_id COLLATE "C"))`;
// The latest PROGRESS event, by (occurred_at, event_id).
const PROGRESS_COLUMNS = ["last_progress_at", "last_progress_event_id", "last_progress"];
const PROGRESS_WINS = `EXCLUDED.last_progress_event_id IS NOT NULL AND (i.last_progress_event_id IS NULL
  OR (EXCLUDED.last_progress_at, EXCLUDED.last_progress_event_id COLLATE "C") > (i.last_progress_at, i.last_progress_event_id COLLATE "C"))`;
// The deciding terminal event: highest (kind, occurred_at, event_id), so FAILED(4) beats COMPLETED(3).
const TERMINAL_COLUMNS = ["terminal_kind", "ended_at", "terminal_event_id", "success", "error_code", "error_message", "reported_processing_ms"];
const TERMINAL_WINS = `EXCLUDED.terminal_kind IS NOT NULL AND (i.terminal_kind IS NULL
  OR (EXCLUDED.terminal_kind, EXCLUDED.ended_at, EXCLUDED.terminal_event_id COLLATE "C")
   > (i.terminal_kind, i.ended_at, i.terminal_event_id COLLATE "C"))`;

/** SET clauses giving every column of a group the winner's value (SET sees the old row in i). */
function winnerTakes(columns: readonly string[], condition: string): string {
  return columns.map((c) => `${c} = CASE WHEN ${condition} THEN EXCLUDED.${c} ELSE i.${c} END`).join(",\n       ");
}

const iso = (ms: number | undefined | null) => (ms === undefined || ms === null ? null : new Date(ms).toISOString());

/**
 * Merges summary deltas into the interactions table. Deltas must be unique by (mcp_id,
 * interaction_id) and sorted by it (foldSummaries does both).
 */
export async function upsertSummaries(client: PoolClient, deltas: readonly SummaryDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  // Why: the same order-independent rules as summary.ts, applied between the stored row (i) and
  // the batch's delta (EXCLUDED): min/max/sum, and for STARTED, PROGRESS and the terminal event
  // "the winner under a total order" compared with COLLATE "C" like the TypeScript side.
  await client.query(
    `INSERT INTO interactions AS i (
       mcp_id, interaction_id, any_session_id, started_session_id, first_event_at, last_event_at,
       first_seen_at, last_seen_at, event_count, started_at, started_event_id, request_type, user_id,
       progress_count, last_progress_at, last_progress_event_id, last_progress,
       terminal_kind, ended_at, terminal_event_id, success, error_code, error_message, reported_processing_ms)
     SELECT * FROM unnest(
       $1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
       $7::timestamptz[], $8::timestamptz[], $9::int4[], $10::timestamptz[], $11::text[], $12::text[], $13::text[],
       $14::int4[], $15::timestamptz[], $16::text[], $17::bytea[],
       $18::int2[], $19::timestamptz[], $20::text[], $21::bool[], $22::text[], $23::text[], $24::float8[])
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
       ${winnerTakes(TERMINAL_COLUMNS, TERMINAL_WINS)}`,
    [
      deltas.map((d) => d.mcpId),
      deltas.map((d) => d.interactionId),
      deltas.map((d) => d.anySessionId),
      deltas.map((d) => d.started?.sessionId ?? ""),
      deltas.map((d) => iso(d.firstEventAt)),
      deltas.map((d) => iso(d.lastEventAt)),
      deltas.map((d) => iso(d.firstSeenAt)),
      deltas.map((d) => iso(d.lastSeenAt)),
      deltas.map((d) => d.eventCount),
      deltas.map((d) => iso(d.started?.at)),
      deltas.map((d) => d.started?.eventId ?? null),
      deltas.map((d) => d.started?.requestType ?? ""),
      deltas.map((d) => d.started?.userId ?? ""),
      deltas.map((d) => d.progressCount),
      deltas.map((d) => iso(d.lastProgress?.at)),
      deltas.map((d) => d.lastProgress?.eventId ?? null),
      deltas.map((d) => d.lastProgress?.progress ?? null),
      deltas.map((d) => d.terminal?.kind ?? null),
      deltas.map((d) => iso(d.terminal?.at)),
      deltas.map((d) => d.terminal?.eventId ?? null),
      deltas.map((d) => d.terminal?.success ?? null),
      deltas.map((d) => d.terminal?.errorCode ?? ""),
      deltas.map((d) => d.terminal?.errorMessage ?? ""),
      deltas.map((d) => d.terminal?.reportedProcessingMs ?? null),
    ],
  );
}

/** Creates the monthly event partitions from this month on that do not exist yet. */
export async function ensureEventPartitions(client: PoolClient | { query: PoolClient["query"] }, monthsAhead: number): Promise<number> {
  // Why: partitions are created ahead of need (this month and the next ones), so inserts never
  // land in the default partition and retention can later drop whole months.
  const { rows } = await client.query<{ created: number }>(
    "SELECT ensure_interaction_event_partitions(current_date, $1) AS created",
    [monthsAhead + 1],
  );
  return rows[0]?.created ?? 0;
}
