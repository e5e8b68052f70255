/**
 * The human loop's SQL: one function per statement. Changes run inside the transactions of
 * decision-store.ts, which hold DECISION_WRITE_LOCK so revisions commit in order.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type { Pool, PoolClient } from "pg";

type Queryable = Pool | PoolClient;

/**
 * Advisory lock serializing every decision change (two 32-bit keys: "mcpc", "dcsn"). Held from
 * before the revision is drawn until commit, so changes commit in revision order: a watcher that
 * has seen revision R has seen every change numbered below R. Human decisions change at most a
 * few hundred times a second; one lock costs nothing at that rate and removes a class of races.
 */
const DECISION_WRITE_LOCK = "1835233379, 1684239214";

/** A decisions row as stored. */
export interface DecisionRow {
  id: string;
  request_key: string;
  request_sha256: Buffer;
  workflow_id: string;
  title: string;
  message: string;
  spec: Buffer;
  status: number;
  created_at: Date;
  expires_at: Date;
  resolved_at: Date | null;
  updated_at: Date;
  outcome: Buffer | null;
  outcome_action: number | null;
  defaulted: boolean;
  cancel_reason: string;
  cancelled_by: string;
  revision: string;
  created_by: string;
  assignees: string[];
  approval: Buffer;
  on_timeout: number;
  default_response: Buffer | null;
  forbid_creator_response: boolean;
  callback_url: string;
  context: JsonObject | null;
}

/** A decision_answers row as stored. */
export interface AnswerRow {
  decision_id: string;
  responder: string;
  responded_at: Date;
  action: number;
  response: Buffer;
  response_key: string;
  response_sha256: Buffer;
  seq: number;
}

/** A decision_audit row as stored. */
export interface AuditRow {
  id: string;
  decision_id: string;
  revision: string;
  action: number;
  actor: string;
  at: Date;
  details: Record<string, unknown>;
}

/** Takes the decision write lock until the end of the transaction. */
export async function lockDecisionWrites(client: PoolClient): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(${DECISION_WRITE_LOCK})`);
}

/** The next revision (call with the write lock held). */
export async function nextRevision(client: PoolClient): Promise<bigint> {
  const { rows } = await client.query<{ revision: string }>("SELECT nextval('decision_revision_seq') AS revision");
  return BigInt(rows[0]!.revision);
}

/** The values a new decision is stored with. */
export interface NewDecisionRow {
  id: string;
  requestKey: string;
  requestSha256: Buffer;
  workflowId: string;
  title: string;
  message: string;
  spec: Uint8Array;
  expiresInMs: number;
  revision: bigint;
  createdBy: string;
  assignees: string[];
  approval: Uint8Array;
  onTimeout: number;
  defaultResponse: Uint8Array | null;
  forbidCreatorResponse: boolean;
  callbackUrl: string;
  context: JsonObject | null;
}

/**
 * Inserts a decision unless its request_key exists; returns the new row, or undefined when the key
 * was taken (the caller then reads the existing one).
 */
export async function insertDecision(client: PoolClient, d: NewDecisionRow): Promise<DecisionRow | undefined> {
  // Why the database clock: created_at and expires_at come from one clock for every replica.
  const { rows } = await client.query<DecisionRow>(
    `INSERT INTO decisions (id, request_key, request_sha256, workflow_id, title, message, spec, expires_at, revision,
       created_by, assignees, approval, on_timeout, default_response, forbid_creator_response, callback_url, context)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8::float8 / 1000), $9, $10, $11, $12, $13, $14, $15, $16, $17)
     ON CONFLICT (request_key) DO NOTHING
     RETURNING *`,
    [
      d.id, d.requestKey, d.requestSha256, d.workflowId, d.title, d.message, d.spec, d.expiresInMs, d.revision.toString(),
      d.createdBy, d.assignees, d.approval, d.onTimeout, d.defaultResponse, d.forbidCreatorResponse, d.callbackUrl, d.context === null ? null : JSON.stringify(d.context),
    ],
  );
  return rows[0];
}

/** The decision with this id; `forUpdate` locks the row until the transaction ends. */
export async function findDecision(db: Queryable, id: string, forUpdate = false): Promise<DecisionRow | undefined> {
  const { rows } = await db.query<DecisionRow>(`SELECT * FROM decisions WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`, [id]);
  return rows[0];
}

/** The decision created with this request key. */
export async function findDecisionByRequestKey(db: Queryable, requestKey: string): Promise<DecisionRow | undefined> {
  const { rows } = await db.query<DecisionRow>("SELECT * FROM decisions WHERE request_key = $1", [requestKey]);
  return rows[0];
}

/** Whether the pending decision's deadline has passed, on the database clock. */
export async function isDue(client: PoolClient, id: string): Promise<boolean> {
  const { rows } = await client.query<{ due: boolean }>("SELECT expires_at <= clock_timestamp() AS due FROM decisions WHERE id = $1", [id]);
  return rows[0]?.due ?? false;
}

/** The answers of the decisions, oldest first per decision. */
export async function listAnswers(db: Queryable, decisionIds: readonly string[]): Promise<AnswerRow[]> {
  if (decisionIds.length === 0) return [];
  const { rows } = await db.query<AnswerRow>("SELECT * FROM decision_answers WHERE decision_id = ANY($1::uuid[]) ORDER BY decision_id, seq", [decisionIds]);
  return rows;
}

/** Records an answer (one per responder: the caller checked). */
export async function insertAnswer(
  client: PoolClient,
  a: { decisionId: string; responder: string; action: number; response: Uint8Array; responseKey: string; responseSha256: Buffer },
): Promise<AnswerRow> {
  const { rows } = await client.query<AnswerRow>(
    `INSERT INTO decision_answers (decision_id, responder, responded_at, action, response, response_key, response_sha256, seq)
     VALUES ($1, $2, clock_timestamp(), $3, $4, $5, $6, (SELECT count(*) + 1 FROM decision_answers WHERE decision_id = $1))
     RETURNING *`,
    [a.decisionId, a.responder, a.action, a.response, a.responseKey, a.responseSha256],
  );
  return rows[0]!;
}

/** What a change sets on a decision besides its revision (undefined: unchanged). */
export interface DecisionChange {
  status?: number;
  outcome?: Uint8Array | null;
  outcomeAction?: number | null;
  defaulted?: boolean;
  cancelReason?: string;
  cancelledBy?: string;
  expiresAt?: Date;
}

/**
 * Applies a change to a PENDING decision and gives it the next revision. The condition
 * `status = 1` is what makes the transition out of PENDING happen once: a second writer (another
 * replica's sweeper, a racing answer) finds no row to update.
 *
 * @returns the updated row, or undefined when the decision was no longer pending.
 */
export async function updatePendingDecision(client: PoolClient, id: string, revision: bigint, change: DecisionChange): Promise<DecisionRow | undefined> {
  const { rows } = await client.query<DecisionRow>(
    `UPDATE decisions SET
       revision = $2,
       updated_at = clock_timestamp(),
       status = COALESCE($3, status),
       resolved_at = CASE WHEN COALESCE($3, status) <> 1 THEN clock_timestamp() END,
       outcome = CASE WHEN $4 THEN $5 ELSE outcome END,
       outcome_action = CASE WHEN $4 THEN $6 ELSE outcome_action END,
       defaulted = COALESCE($7, defaulted),
       cancel_reason = COALESCE($8, cancel_reason),
       cancelled_by = COALESCE($9, cancelled_by),
       expires_at = COALESCE($10, expires_at)
     WHERE id = $1 AND status = 1
     RETURNING *`,
    [
      id,
      revision.toString(),
      change.status ?? null,
      change.outcome !== undefined,
      change.outcome ?? null,
      change.outcomeAction ?? null,
      change.defaulted ?? null,
      change.cancelReason ?? null,
      change.cancelledBy ?? null,
      change.expiresAt ?? null,
    ],
  );
  return rows[0];
}

/** Appends an audit row. */
export async function insertAudit(
  client: Queryable,
  a: { decisionId: string; revision: bigint; action: number; actor: string; details: Record<string, unknown> },
): Promise<void> {
  await client.query("INSERT INTO decision_audit (decision_id, revision, action, actor, details) VALUES ($1, $2, $3, $4, $5)", [
    a.decisionId,
    a.revision.toString(),
    a.action,
    a.actor,
    JSON.stringify(a.details),
  ]);
}

/** The decision's audit rows, oldest first. */
export async function listAudit(db: Queryable, decisionId: string): Promise<AuditRow[]> {
  const { rows } = await db.query<AuditRow>("SELECT * FROM decision_audit WHERE decision_id = $1 ORDER BY id", [decisionId]);
  return rows;
}

/** Queues the final state's callback (once per decision). */
export async function insertCallback(client: PoolClient, decisionId: string, revision: bigint, url: string): Promise<void> {
  await client.query("INSERT INTO decision_callbacks (decision_id, revision, url) VALUES ($1, $2, $3) ON CONFLICT (decision_id) DO NOTHING", [
    decisionId,
    revision.toString(),
    url,
  ]);
}

/** Tells every coordinator (LISTEN decision_changes) that a revision committed. */
export async function notifyChange(client: PoolClient, revision: bigint): Promise<void> {
  // Delivered at commit, and only if the transaction commits.
  await client.query("SELECT pg_notify('mcpc_decision_changes', $1)", [revision.toString()]);
}

/** Ids of pending decisions whose deadline has passed, oldest deadline first. */
export async function dueDecisionIds(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM decisions WHERE status = 1 AND expires_at <= clock_timestamp() ORDER BY expires_at LIMIT $1",
    [limit],
  );
  return rows.map((r) => r.id);
}

/** The earliest deadline among pending decisions (to time the next sweep). */
export async function nextDeadline(db: Queryable): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>("SELECT min(expires_at) AS at FROM decisions WHERE status = 1");
  return rows[0]?.at ?? undefined;
}

/** Decisions changed after `revision`, in revision order (the change feed and watch catch-up). */
export async function decisionsChangedAfter(db: Queryable, revision: bigint, limit: number): Promise<DecisionRow[]> {
  const { rows } = await db.query<DecisionRow>("SELECT * FROM decisions WHERE revision > $1 ORDER BY revision LIMIT $2", [revision.toString(), limit]);
  return rows;
}

/** The highest revision committed so far (0 when there is none). */
export async function latestRevision(db: Queryable): Promise<bigint> {
  const { rows } = await db.query<{ revision: string | null }>("SELECT max(revision) AS revision FROM decisions");
  return BigInt(rows[0]?.revision ?? 0);
}

/** Pending decisions, in revision order (WatchDecisions from 0). */
export async function pendingDecisions(db: Queryable, afterRevision: bigint, limit: number): Promise<DecisionRow[]> {
  const { rows } = await db.query<DecisionRow>("SELECT * FROM decisions WHERE status = 1 AND revision > $1 ORDER BY revision LIMIT $2", [
    afterRevision.toString(),
    limit,
  ]);
  return rows;
}

/** The database's clock now (deadlines are compared on it, never on a replica's clock). */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>("SELECT clock_timestamp() AS now");
  return rows[0]!.now;
}
