/**
 * SQL of the live tail (WatchInteractions): one function per query. The writer's NOTIFY is part
 * of its batch statement (writer-queries.ts).
 */
import type { Pool, PoolClient } from "pg";
import type { EventRow } from "../read/interaction-queries.js";
import { EVENTS_CHANNEL, WATCHING_LOCK, type EventRef } from "./channel.js";

const LOCK_KEYS = `${WATCHING_LOCK.key1}, ${WATCHING_LOCK.key2}`;

/** Whether any session of this database holds the watching lock (some replica has watchers). */
export async function anyoneWatching(pool: Pool): Promise<boolean> {
  // Why pg_locks and this filter: advisory locks are per database, and two int4 keys show up as
  // classid/objid with objsubid 2. One query per second per replica (watcher-presence.ts), off
  // the ingest path; it reads the lock table without taking any lock itself.
  const { rows } = await pool.query<{ watching: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = ${WATCHING_LOCK.key1} AND objid = ${WATCHING_LOCK.key2} AND objsubid = 2
     ) AS watching`,
  );
  return rows[0]?.watching ?? true;
}

/** Starts listening and takes the watching lock, on the tail's own connection. */
export async function listenAndHoldWatchingLock(client: PoolClient): Promise<void> {
  // Why LISTEN first: once the lock is seen, writers notify, and by then this session listens.
  // Session-level and shared: every replica with watchers holds it at once, and it is released
  // by itself when this connection closes, however it closes.
  await client.query(`LISTEN ${EVENTS_CHANNEL}`);
  await client.query(`SELECT pg_advisory_lock_shared(${LOCK_KEYS})`);
}

/** A stored event with the key the tail matches it by. */
export interface WatchedRow extends EventRow {
  mcp_id: string;
  interaction_id: string;
  kind: number;
}

/** A reference with the received_at of its announcement. */
export interface TimedRef extends EventRef {
  receivedAt: string;
}

/** The events `refs` name, in the order given (an event no longer stored is left out). */
export async function fetchAnnouncedEvents(db: PoolClient | Pool, refs: readonly TimedRef[]): Promise<WatchedRow[]> {
  // Why this shape: received_at (the partition key, exact to the microsecond) prunes partitions,
  // and (mcp_id, interaction_id, occurred_at) is interaction_events_interaction_idx whole, so each
  // reference is one index probe that finds its event (or the few that happened at the same
  // millisecond), however many events the interaction has; the ordinality keeps the
  // announcements' order.
  const { rows } = await db.query<WatchedRow>(
    `SELECT e.mcp_id, e.interaction_id, e.kind, e.received_at, e.payload, e.coordinator_version
       FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
              WITH ORDINALITY AS r(received_at, mcp_id, interaction_id, occurred_at, event_id, n)
       JOIN interaction_events e
         ON e.mcp_id = r.mcp_id AND e.interaction_id = r.interaction_id AND e.occurred_at = r.occurred_at
        AND e.received_at = r.received_at AND e.event_id = r.event_id
      WHERE e.received_at = ANY ($1::timestamptz[])
      ORDER BY r.n`,
    [refs.map((r) => r.receivedAt), refs.map((r) => r.mcpId), refs.map((r) => r.interactionId), refs.map((r) => r.occurredAt), refs.map((r) => r.eventId)],
  );
  return rows;
}
