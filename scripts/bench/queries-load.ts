/**
 * Loading the query benchmark's history straight into the database: set-based inserts of
 * generated chunks (queries-dataset.ts) rather than gRPC ingest, which would take many minutes
 * and could not spread received_at over 30 days. Then the rollup backfill (the coordinator's own
 * RollupJob, see queries-backfill.ts) and VACUUM ANALYZE, each timed.
 *
 * What is written is what the coordinator itself would have stored: events in their monthly
 * partitions, one dedupe key per event, one summary per interaction with its rollup minute queued
 * (as the writer's statement queues it), and a row per MCP in the registry.
 */
import { performance } from "node:perf_hooks";
import type { Pool } from "pg";
import { queueFinishedMinutesSql } from "../../src/interactions/rollups/rollup-queries.js";
import { backfillRollups, type Backfill } from "./queries-backfill.js";
import { generateDataset, mcpIds, type Chunk, type DatasetPlan } from "./queries-dataset.js";
import { checkPayloads } from "./queries-payload.js";

/** Interactions per chunk: about 50,000 events, a few MB of parameters per statement. */
const PER_CHUNK = 17_000;

/** What the load took. */
export interface LoadTimes {
  events: number;
  interactions: number;
  loadSeconds: number;
  backfill: Backfill;
  vacuumSeconds: number;
}

/** The data set a database holds, as recorded after a complete load (absent: none or partial). */
export interface LoadedDataset {
  events: number;
  interactions: number;
  mcps: number;
  loadedAt: Date;
}

/** Reads the record of a complete load, if any. */
export async function loadedDataset(pool: Pool): Promise<LoadedDataset | undefined> {
  // Why a table of the benchmark's own: --reuse must know whether the kept database holds a
  // complete load of the size asked for (a run stopped half-way leaves no row).
  await pool.query("CREATE TABLE IF NOT EXISTS bench_queries_dataset (events bigint, interactions bigint, mcps integer, loaded_at timestamptz)");
  const { rows } = await pool.query<{ events: string; interactions: string; mcps: number; loaded_at: Date }>("SELECT * FROM bench_queries_dataset");
  const row = rows[0];
  return row ? { events: Number(row.events), interactions: Number(row.interactions), mcps: row.mcps, loadedAt: row.loaded_at } : undefined;
}

/**
 * Empties the interaction tables, loads a fresh data set of `plan` (progress printed to `log`),
 * runs the rollup backfill and VACUUM ANALYZE.
 */
export async function loadDataset(pool: Pool, plan: DatasetPlan, log: (line: string) => void): Promise<LoadTimes> {
  await pool.query("DELETE FROM bench_queries_dataset");
  await pool.query(`TRUNCATE interaction_events, interaction_event_keys, interactions, interaction_rollup_queue,
    interaction_rollups, interaction_error_rollups, access_audit`);
  // Why from 31 days back: the oldest events land in last month's partition.
  await pool.query("SELECT ensure_interaction_event_partitions((now() - interval '31 days')::date, 4)");
  await pool.query(
    `INSERT INTO mcps (mcp_id, name, type, capabilities, last_seen)
     SELECT id, 'bench ' || id, 'llm-adapter', ARRAY['search', 'summarize'], now() FROM unnest($1::text[]) AS id
     ON CONFLICT (mcp_id) DO NOTHING`,
    [mcpIds(plan.mcps)],
  );

  const started = performance.now();
  let events = 0;
  let interactions = 0;
  let nextReport = 500_000;
  let inFlight: Promise<unknown> = Promise.resolve();
  // Why one chunk in flight: this process makes the next chunk while PostgreSQL stores the
  // previous one, so the two cores both work.
  for (const chunk of generateDataset(plan, PER_CHUNK)) {
    checkPayloads(chunk.samples);
    await inFlight;
    inFlight = Promise.all([insertEvents(pool, chunk), insertSummaries(pool, chunk)]);
    events += chunk.events.eventId.length;
    interactions += chunk.summaries.mcpId.length;
    if (events >= nextReport) {
      log(`  ${(events / 1e6).toFixed(1)} M events (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      nextReport += 500_000;
    }
  }
  await inFlight;
  const loadSeconds = (performance.now() - started) / 1000;
  log(`  loaded ${events.toLocaleString("en-US")} events of ${interactions.toLocaleString("en-US")} interactions in ${loadSeconds.toFixed(1)} s`);

  const backfill = await backfillRollups(pool, log);
  log(`  rollup backfill (RollupJob.runOnce, default chunk): ${backfill.minutes.toLocaleString("en-US")} MCP-minutes in ${backfill.seconds.toFixed(1)} s`);

  const vacuumStarted = performance.now();
  await pool.query("VACUUM (ANALYZE)");
  await pool.query("CHECKPOINT").catch(() => undefined);
  const vacuumSeconds = (performance.now() - vacuumStarted) / 1000;
  log(`  VACUUM (ANALYZE) and CHECKPOINT: ${vacuumSeconds.toFixed(1)} s`);

  await pool.query("INSERT INTO bench_queries_dataset VALUES ($1, $2, $3, now())", [events, interactions, plan.mcps]);
  return { events, interactions, loadSeconds, backfill, vacuumSeconds };
}

async function insertEvents(pool: Pool, { events: e }: Chunk): Promise<void> {
  // Why one statement for keys and events: both come from the same arrays, sent once.
  await pool.query(
    `WITH input AS (
       SELECT * FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::float8[], $8::bytea[])
         AS t(received_ms, mcp_id, event_id, interaction_id, session_id, kind, occurred_ms, payload)
     ),
     keys AS (
       INSERT INTO interaction_event_keys (mcp_id, event_id, received_at)
       SELECT mcp_id, event_id, to_timestamp(received_ms / 1000) FROM input
     )
     INSERT INTO interaction_events (received_at, mcp_id, event_id, interaction_id, session_id, kind, occurred_at, payload)
     SELECT to_timestamp(received_ms / 1000), mcp_id, event_id, interaction_id, session_id, kind, to_timestamp(occurred_ms / 1000), payload
     FROM input`,
    [e.receivedMs, e.mcpId, e.eventId, e.interactionId, e.sessionId, e.kind, e.occurredMs, e.payload],
  );
}

async function insertSummaries(pool: Pool, { summaries: s }: Chunk): Promise<void> {
  await pool.query(
    `WITH summaries AS (
     INSERT INTO interactions (mcp_id, interaction_id, any_session_id, started_session_id, first_event_at, last_event_at,
       first_seen_at, last_seen_at, event_count, started_at, started_event_id, request_type, user_id,
       progress_count, last_progress_at, last_progress_event_id, last_progress,
       terminal_kind, ended_at, terminal_event_id, success, error_code, error_message, reported_processing_ms)
     SELECT mcp_id, interaction_id, any_session_id, started_session_id, to_timestamp(first_event_ms / 1000), to_timestamp(last_event_ms / 1000),
       to_timestamp(first_seen_ms / 1000), to_timestamp(last_seen_ms / 1000), event_count, to_timestamp(started_ms / 1000), started_event_id,
       request_type, user_id, progress_count, to_timestamp(last_progress_ms / 1000), last_progress_event_id, last_progress,
       terminal_kind, to_timestamp(ended_ms / 1000), terminal_event_id, success, error_code, error_message, reported_ms
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::int4[],
       $10::float8[], $11::text[], $12::text[], $13::text[], $14::int4[], $15::float8[], $16::text[], $17::bytea[],
       $18::int2[], $19::float8[], $20::text[], $21::bool[], $22::text[], $23::text[], $24::float8[])
       AS t(mcp_id, interaction_id, any_session_id, started_session_id, first_event_ms, last_event_ms, first_seen_ms, last_seen_ms,
         event_count, started_ms, started_event_id, request_type, user_id, progress_count, last_progress_ms, last_progress_event_id,
         last_progress, terminal_kind, ended_ms, terminal_event_id, success, error_code, error_message, reported_ms)
     RETURNING mcp_id, ended_at
     )
     ${queueFinishedMinutesSql("summaries")}`,
    [
      s.mcpId,
      s.interactionId,
      s.anySessionId,
      s.startedSessionId,
      s.firstEventMs,
      s.lastEventMs,
      s.firstSeenMs,
      s.lastSeenMs,
      s.eventCount,
      s.startedMs,
      s.startedEventId,
      s.requestType,
      s.userId,
      s.progressCount,
      s.lastProgressMs,
      s.lastProgressEventId,
      s.lastProgress,
      s.terminalKind,
      s.endedMs,
      s.terminalEventId,
      s.success,
      s.errorCode,
      s.errorMessage,
      s.reportedMs,
    ],
  );
}

/** Sizes of the tables the reads use, for the report. */
export async function tableSizes(pool: Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ name: string; bytes: string }>(
    `SELECT t.name, COALESCE((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(t.name::regclass) WHERE isleaf), pg_total_relation_size(t.name::regclass))::text AS bytes
     FROM unnest(ARRAY['interaction_events', 'interaction_event_keys', 'interactions', 'interaction_rollups', 'interaction_error_rollups']) AS t(name)`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, Number(row.bytes)]));
}

/** `count` random (mcp_id, interaction_id) pairs of the loaded summaries, for GetInteraction. */
export async function sampleInteractions(pool: Pool, count: number, total: number): Promise<{ mcpId: string; interactionId: string }[]> {
  // Why BERNOULLI: rows picked evenly over the whole table (SYSTEM would pick whole pages, so
  // neighbours in time), at about twice the count needed; the shuffle then drops the extra.
  const percent = Math.min(100, (100 * 2 * count) / Math.max(1, total));
  const { rows } = await pool.query<{ mcp_id: string; interaction_id: string }>(
    `SELECT mcp_id, interaction_id FROM interactions TABLESAMPLE BERNOULLI ($1) ORDER BY random() LIMIT $2`,
    [percent, count],
  );
  return rows.map((row) => ({ mcpId: row.mcp_id, interactionId: row.interaction_id }));
}
