/**
 * SQL of the retention job: one function per statement.
 */
import type { PoolClient } from "pg";

/** Only one replica runs retention at a time ("mcpc" and "retn" as two int4 keys). */
const RETENTION_LOCK = "1835233379, 1919251566";

/** Takes the retention lock for this session, or returns false when another replica holds it. */
export async function tryLockRetention(client: PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${RETENTION_LOCK}) AS locked`);
  return rows[0]!.locked;
}

/** Releases the lock taken by {@link tryLockRetention}. */
export async function unlockRetention(client: PoolClient): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(${RETENTION_LOCK})`);
}

/** The database's time minus `retentionMs`: events received before it are expired. */
export async function retentionCutoff(client: PoolClient, retentionMs: number): Promise<Date> {
  const { rows } = await client.query<{ cutoff: Date }>("SELECT now() - $1 * interval '1 millisecond' AS cutoff", [retentionMs]);
  return rows[0]!.cutoff;
}

/** A monthly partition of the event log and the month it holds ([start, end) of received_at). */
export interface EventPartition {
  name: string;
  start: Date;
  end: Date;
}

/** The monthly partitions of interaction_events (not the default one), oldest first. */
export async function listEventPartitions(client: PoolClient): Promise<EventPartition[]> {
  // Why the name and not pg_get_expr(relpartbound): ensure_interaction_event_partitions names each
  // partition after its month, and a name is simpler to read back than a bound expression.
  const { rows } = await client.query<{ name: string; start: Date; end: Date }>(
    `SELECT c.relname AS name,
            to_date(substring(c.relname from '(\\d{6})$'), 'YYYYMM')::timestamptz AS start,
            (to_date(substring(c.relname from '(\\d{6})$'), 'YYYYMM') + interval '1 month')::timestamptz AS end
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'interaction_events'::regclass AND c.relname ~ '^interaction_events_\\d{6}$'
      ORDER BY 2`,
  );
  return rows;
}

/** Drops one partition: its events go at once, without a row-by-row DELETE. */
export async function dropEventPartition(client: PoolClient, name: string): Promise<void> {
  // IF EXISTS: a replica that ran retention before this one took the lock may have dropped it.
  await client.query(`DROP TABLE IF EXISTS ${client.escapeIdentifier(name)}`);
}

/** The earliest received_at of an event in the default partition (normally empty). */
export async function oldestDefaultPartitionEvent(client: PoolClient): Promise<Date | null> {
  const { rows } = await client.query<{ oldest: Date | null }>("SELECT min(received_at) AS oldest FROM interaction_events_default");
  return rows[0]!.oldest;
}

/** Deletes up to `limit` dedupe keys received before `boundary`; returns how many. */
export async function trimEventKeys(client: PoolClient, boundary: Date, limit: number): Promise<number> {
  // Why in chunks: a key table of millions of rows is trimmed without one long transaction.
  const { rowCount } = await client.query(
    `DELETE FROM interaction_event_keys WHERE ctid IN (
       SELECT ctid FROM interaction_event_keys WHERE received_at < $1 LIMIT $2)`,
    [boundary, limit],
  );
  return rowCount ?? 0;
}

/** Deletes up to `limit` interaction summaries last seen before `boundary`; returns how many. */
export async function trimInteractions(client: PoolClient, boundary: Date, limit: number): Promise<number> {
  // Why last_seen_at: every event of such an interaction arrived before the boundary, so all of
  // them were in partitions that are gone. The first_seen_at condition adds nothing (first <=
  // last) but lets the listing index find the candidates; an index on last_seen_at, which every
  // event moves, would cost ingest on each upsert.
  const { rowCount } = await client.query(
    `DELETE FROM interactions WHERE ctid IN (
       SELECT ctid FROM interactions WHERE first_seen_at < $1 AND last_seen_at < $1 LIMIT $2)`,
    [boundary, limit],
  );
  return rowCount ?? 0;
}
