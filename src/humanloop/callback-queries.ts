/**
 * The SQL of callback delivery: one function per statement. Rows of decision_callbacks are queued
 * by decision-store.ts (in the transaction that makes a decision final); the worker here claims,
 * sends and settles them. Times come from the database clock, shared by every replica.
 */
import type { Pool, PoolClient } from "pg";

type Queryable = Pool | PoolClient;

/** A decision_callbacks row as stored. */
export interface CallbackRow {
  decision_id: string;
  revision: string;
  url: string;
  attempts: number;
  next_attempt_at: Date;
  delivered_at: Date | null;
  given_up_at: Date | null;
  last_error: string;
}

/**
 * Claims up to `limit` due callbacks for one attempt each: counts the attempt and pushes
 * next_attempt_at out by `leaseMs` (longer than a send can take), then returns the rows with
 * `attempts` being this attempt's number.
 *
 * Why SKIP LOCKED: replicas polling at the same moment each take different rows instead of
 * queueing behind one another, and no row is sent twice at once. Why a lease instead of holding
 * the row lock while sending: no transaction (and pool connection) stays open across an HTTP
 * request, and a replica that dies mid-send leaves a row that becomes due again when the lease
 * runs out, so the attempt is retried elsewhere.
 */
export async function claimDueCallbacks(client: PoolClient, limit: number, leaseMs: number): Promise<CallbackRow[]> {
  const { rows } = await client.query<CallbackRow>(
    `UPDATE decision_callbacks c SET
       attempts = c.attempts + 1,
       next_attempt_at = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
     FROM (
       SELECT decision_id FROM decision_callbacks
       WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= clock_timestamp()
       ORDER BY next_attempt_at
       LIMIT $1
       FOR UPDATE SKIP LOCKED
     ) due
     WHERE c.decision_id = due.decision_id
     RETURNING c.*`,
    [limit, leaseMs],
  );
  return rows;
}

/**
 * Marks attempt `attempt` delivered. Why the attempts condition: if this replica's lease ran out
 * and another replica claimed the row again, that replica owns the outcome now; this one changes
 * nothing (and the caller skips its audit row).
 *
 * @returns whether the row was still this attempt's.
 */
export async function markDelivered(client: PoolClient, decisionId: string, attempt: number): Promise<boolean> {
  const { rowCount } = await client.query(
    "UPDATE decision_callbacks SET delivered_at = clock_timestamp(), last_error = '' WHERE decision_id = $1 AND attempts = $2 AND delivered_at IS NULL AND given_up_at IS NULL",
    [decisionId, attempt],
  );
  return rowCount === 1;
}

/**
 * Records failed attempt `attempt`: either schedules the next one `retryInMs` from now, or (with
 * `retryInMs` null) gives up. Same ownership condition as markDelivered.
 *
 * @returns whether the row was still this attempt's.
 */
export async function markFailed(client: PoolClient, decisionId: string, attempt: number, error: string, retryInMs: number | null): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE decision_callbacks SET
       last_error = $3,
       next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at ELSE clock_timestamp() + make_interval(secs => $4::float8 / 1000) END,
       given_up_at = CASE WHEN $4::float8 IS NULL THEN clock_timestamp() END
     WHERE decision_id = $1 AND attempts = $2 AND delivered_at IS NULL AND given_up_at IS NULL`,
    [decisionId, attempt, error, retryInMs],
  );
  return rowCount === 1;
}

/**
 * Hands a claimed attempt back unsent (this replica is shutting down): the attempt is not counted
 * and the row is due at once, for any replica.
 */
export async function releaseClaim(db: Queryable, decisionId: string, attempt: number): Promise<void> {
  await db.query(
    "UPDATE decision_callbacks SET attempts = attempts - 1, next_attempt_at = clock_timestamp() WHERE decision_id = $1 AND attempts = $2 AND delivered_at IS NULL AND given_up_at IS NULL",
    [decisionId, attempt],
  );
}
