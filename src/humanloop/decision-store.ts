/**
 * The decision state machine over Postgres: create (idempotent), respond, cancel, extend and
 * expire. Each change is one transaction that takes the decision write lock, draws the next
 * revision, changes the row only while it is PENDING (a conditional UPDATE), writes its audit row,
 * queues the callback of a final state, and notifies every replica; all or nothing.
 */
import { createHash, randomUUID } from "node:crypto";
import { fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Pool, PoolClient } from "pg";
import { CreateDecisionRequestSchema, type CreateDecisionRequest, type ExtendDeadlineRequest } from "../../gen/coordinator/v1/decision_commands_pb.js";
import { DecisionAuditAction, type DecisionAuditEntry } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { DecisionStatus, type Decision } from "../../gen/coordinator/v1/decision_pb.js";
import { ApprovalPolicySchema, TimeoutPolicy } from "../../gen/coordinator/v1/decision_policy_pb.js";
import { DecisionResponseSchema, type DecisionResponse } from "../../gen/coordinator/v1/decision_response_pb.js";
import { DecisionSpecSchema } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { withTransaction } from "../store/transaction.js";
import { canonicalJson } from "./canonical-json.js";
import * as q from "./decision-queries.js";
import { approvalOf, toAuditEntry, toDecision } from "./decision-mapping.js";
import { checkId, checkOwner, notFound, notPending, type Actor } from "./decision-guards.js";
import { DecisionError, InvalidFieldError } from "./errors.js";
import type { DecisionLimits } from "./limits.js";
import { judge } from "./policy.js";
import { checkResponse } from "./response-validation.js";
import { checkCreateRequest, resolvedTimeoutMs } from "./spec-validation.js";

/** The decisions service: see the module comment. */
export class DecisionStore {
  readonly #pool: Pool;
  readonly #limits: DecisionLimits;

  constructor(pool: Pool, limits: DecisionLimits) {
    this.#pool = pool;
    this.#limits = limits;
  }

  /**
   * Creates a decision, or returns the one created before with the same request_key.
   *
   * @throws InvalidFieldError for a bad request; DecisionError already_exists when the key was
   *   used with a different request.
   */
  async create(request: CreateDecisionRequest, actor: Actor): Promise<{ decision: Decision; created: boolean }> {
    checkCreateRequest(request, this.#limits);
    const requestSha256 = createHash("sha256").update(canonicalJson(toJson(CreateDecisionRequestSchema, request))).digest();
    const existing = async (client: PoolClient | Pool) => {
      const row = await q.findDecisionByRequestKey(client, request.requestKey);
      if (!row) return undefined;
      if (!row.request_sha256.equals(requestSha256)) {
        throw new DecisionError("already_exists", `request_key "${request.requestKey}" was already used with a different request (decision ${row.id})`);
      }
      return { decision: await this.#load(client, row), created: false };
    };
    // The common retry finds its decision without taking the write lock.
    const before = await existing(this.#pool);
    if (before) return before;
    return withTransaction(this.#pool, async (client) => {
      await q.lockDecisionWrites(client);
      const revision = await q.nextRevision(client);
      const row = await q.insertDecision(client, {
        id: randomUUID(),
        requestKey: request.requestKey,
        requestSha256,
        workflowId: request.workflowId,
        title: request.title,
        message: request.message,
        spec: toBinary(DecisionSpecSchema, request.spec!),
        expiresInMs: resolvedTimeoutMs(request, this.#limits),
        revision,
        createdBy: actor.principal,
        assignees: request.assignees,
        approval: request.approval ? toBinary(ApprovalPolicySchema, request.approval) : new Uint8Array(),
        onTimeout: request.onTimeout === TimeoutPolicy.UNSPECIFIED ? TimeoutPolicy.FAIL : request.onTimeout,
        defaultResponse: request.defaultResponse ? toBinary(DecisionResponseSchema, request.defaultResponse) : null,
        forbidCreatorResponse: request.forbidCreatorResponse,
        callbackUrl: request.callbackUrl,
        context: request.context ?? null,
      });
      // Lost a race with the same key: the winner committed before we took the lock.
      if (!row) return (await existing(client))!;
      await q.insertAudit(client, { decisionId: row.id, revision, action: DecisionAuditAction.CREATED, actor: actor.principal, details: { workflow_id: row.workflow_id } });
      await q.notifyChange(client, revision);
      return { decision: toDecision(row, []), created: true };
    });
  }

  /** The decision. @throws InvalidFieldError "decision_id", DecisionError not_found. */
  async get(id: string): Promise<Decision> {
    const row = await q.findDecision(this.#pool, checkId(id));
    if (!row) throw notFound(id);
    return this.#load(this.#pool, row);
  }

  /** The decision's audit trail, oldest first. */
  async audit(id: string): Promise<DecisionAuditEntry[]> {
    return (await q.listAudit(this.#pool, checkId(id))).map(toAuditEntry);
  }

  /**
   * Records the actor's answer; the approval policy decides whether it completes the decision.
   *
   * @throws InvalidFieldError (bad answer: nothing changes), DecisionError not_found,
   *   permission_denied, failed_precondition (not pending, or already answered by this
   *   principal), already_exists (response_key reused with another response).
   */
  async respond(id: string, response: DecisionResponse | undefined, responseKey: string, actor: Actor): Promise<Decision> {
    checkId(id);
    if (responseKey.length > 200) throw new InvalidFieldError("response_key", "must be at most 200 characters");
    const responseSha256 = createHash("sha256")
      .update(response ? toBinary(DecisionResponseSchema, response) : new Uint8Array())
      .digest();
    return this.#change(id, async (client, row, revision) => {
      const answers = await q.listAnswers(client, [row.id]);
      if (responseKey) {
        const same = answers.find((a) => a.response_key === responseKey);
        if (same) {
          if (!same.response_sha256.equals(responseSha256)) {
            throw new DecisionError("already_exists", `response_key "${responseKey}" was already used with a different response`);
          }
          return { unchanged: true };
        }
      }
      if (row.status !== DecisionStatus.PENDING) throw notPending(row);
      if (row.assignees.length > 0 && !row.assignees.includes(actor.principal) && actor.role !== "admin") {
        throw new DecisionError("permission_denied", `${actor.principal} is not among the assignees of decision ${row.id} (${row.assignees.join(", ")})`);
      }
      if (row.forbid_creator_response && row.created_by === actor.principal) {
        throw new DecisionError("permission_denied", `decision ${row.id} forbids its creator (${row.created_by}) from answering it`);
      }
      const spec = fromBinary(DecisionSpecSchema, row.spec);
      const checked = checkResponse(spec, response, "response", this.#limits.maxFileBytes);
      if (answers.some((a) => a.responder === actor.principal)) {
        throw new DecisionError("failed_precondition", `${actor.principal} already answered decision ${row.id}`);
      }
      const answer = await q.insertAnswer(client, {
        decisionId: row.id,
        responder: actor.principal,
        action: checked.action,
        response: toBinary(DecisionResponseSchema, checked),
        responseKey,
        responseSha256,
      });
      const all = [...answers, answer];
      const verdict = judge(approvalOf(row), row.assignees, all.map((a) => ({ responder: a.responder, action: a.action })));
      const deciding = verdict.decided ? all[verdict.by]! : undefined;
      const updated = await q.updatePendingDecision(client, row.id, revision, deciding
        ? { status: DecisionStatus.COMPLETED, outcome: deciding.response, outcomeAction: deciding.action }
        : {});
      await q.insertAudit(client, {
        decisionId: row.id,
        revision,
        action: DecisionAuditAction.ANSWERED,
        actor: actor.principal,
        details: { status: DecisionStatus[updated!.status], action: checked.action, decided: Boolean(deciding) },
      });
      return { row: updated! };
    });
  }

  /**
   * Cancels a pending decision; cancelling a cancelled one returns it unchanged.
   *
   * @throws DecisionError not_found, permission_denied (a workflow that did not create it),
   *   failed_precondition (completed or expired).
   */
  async cancel(id: string, reason: string, actor: Actor): Promise<Decision> {
    checkId(id);
    if (reason.length > 1024) throw new InvalidFieldError("reason", "must be at most 1,024 characters");
    return this.#change(id, async (client, row, revision) => {
      checkOwner(row, actor);
      if (row.status === DecisionStatus.CANCELLED) return { unchanged: true };
      if (row.status !== DecisionStatus.PENDING) throw notPending(row);
      const updated = await q.updatePendingDecision(client, row.id, revision, { status: DecisionStatus.CANCELLED, cancelReason: reason, cancelledBy: actor.principal });
      await q.insertAudit(client, { decisionId: row.id, revision, action: DecisionAuditAction.CANCELLED, actor: actor.principal, details: { reason } });
      return { row: updated! };
    });
  }

  /**
   * Moves the deadline of a pending decision.
   *
   * @throws InvalidFieldError "deadline" (missing, past, beyond the maximum timeout),
   *   DecisionError not_found, permission_denied, failed_precondition.
   */
  async extend(request: ExtendDeadlineRequest, actor: Actor): Promise<Decision> {
    checkId(request.decisionId);
    const deadline = request.deadline;
    if (deadline.case === undefined) throw new InvalidFieldError("deadline", "set expires_at or extend_by");
    if (deadline.case === "extendBy" && durationMs(deadline.value) <= 0) throw new InvalidFieldError("extend_by", "must be positive");
    return this.#change(request.decisionId, async (client, row, revision) => {
      checkOwner(row, actor);
      if (row.status !== DecisionStatus.PENDING) throw notPending(row);
      const to = deadline.case === "expiresAt" ? new Date(timestampMs(deadline.value)) : new Date(row.expires_at.getTime() + durationMs(deadline.value));
      const field = deadline.case === "expiresAt" ? "expires_at" : "extend_by";
      const now = await q.databaseNow(client);
      if (to.getTime() <= now.getTime()) throw new InvalidFieldError(field, `the new deadline ${to.toISOString()} is not in the future`);
      if (to.getTime() - now.getTime() > this.#limits.maxTimeoutMs) {
        throw new InvalidFieldError(field, `the new deadline ${to.toISOString()} is more than the maximum timeout (${this.#limits.maxTimeoutMs / 1000} s) from now`);
      }
      const updated = await q.updatePendingDecision(client, row.id, revision, { expiresAt: to });
      await q.insertAudit(client, {
        decisionId: row.id,
        revision,
        action: DecisionAuditAction.EXTENDED,
        actor: actor.principal,
        details: { from: row.expires_at.toISOString(), to: to.toISOString() },
      });
      return { row: updated! };
    });
  }

  /**
   * Expires pending decisions whose deadline passed (oldest first, at most `limit`), applying the
   * default response where the policy says so. Safe on every replica at once: each decision is
   * expired by whichever transaction gets it first, the others find it no longer pending.
   *
   * @returns how many decisions this call expired.
   */
  async expireDue(limit = 100): Promise<number> {
    const ids = await q.dueDecisionIds(this.#pool, limit);
    let expired = 0;
    for (const id of ids) {
      const done = await withTransaction(this.#pool, async (client) => {
        await q.lockDecisionWrites(client);
        const row = await q.findDecision(client, id, true);
        if (!row || row.status !== DecisionStatus.PENDING || !(await q.isDue(client, id))) return false;
        await this.#expire(client, row);
        return true;
      });
      if (done) expired++;
    }
    return expired;
  }

  /** When the earliest pending deadline falls (undefined: nothing pending). */
  nextDeadline(): Promise<Date | undefined> {
    return q.nextDeadline(this.#pool);
  }

  /**
   * Runs one change of decision `id` under the write lock. A pending decision whose deadline has
   * passed is expired first (and that expiry committed) so no answer, cancel or extension can
   * slip in after the deadline even when no sweeper has run yet.
   */
  async #change(
    id: string,
    fn: (client: PoolClient, row: q.DecisionRow, revision: bigint) => Promise<{ row: q.DecisionRow } | { unchanged: true }>,
  ): Promise<Decision> {
    const outcome = await withTransaction(this.#pool, async (client) => {
      await q.lockDecisionWrites(client);
      let row = await q.findDecision(client, id, true);
      if (!row) throw notFound(id);
      if (row.status === DecisionStatus.PENDING && (await q.isDue(client, id))) {
        row = await this.#expire(client, row);
        return { expired: row };
      }
      const revision = await q.nextRevision(client);
      const result = await fn(client, row, revision);
      if ("unchanged" in result) return { decision: await this.#load(client, row) };
      if (result.row.status !== DecisionStatus.PENDING && result.row.callback_url) {
        await q.insertCallback(client, result.row.id, revision, result.row.callback_url);
      }
      await q.notifyChange(client, revision);
      return { decision: await this.#load(client, result.row) };
    });
    if ("expired" in outcome) throw notPending(outcome.expired!);
    return outcome.decision;
  }

  /** Expires a pending, due decision inside the caller's transaction (write lock held). */
  async #expire(client: PoolClient, row: q.DecisionRow): Promise<q.DecisionRow> {
    const revision = await q.nextRevision(client);
    const applyDefault = row.on_timeout === TimeoutPolicy.APPLY_DEFAULT && row.default_response !== null;
    const defaultAction = applyDefault ? fromBinary(DecisionResponseSchema, row.default_response!).action : null;
    const updated = await q.updatePendingDecision(client, row.id, revision, {
      status: DecisionStatus.EXPIRED,
      defaulted: applyDefault,
      ...(applyDefault ? { outcome: row.default_response, outcomeAction: defaultAction } : {}),
    });
    await q.insertAudit(client, { decisionId: row.id, revision, action: DecisionAuditAction.EXPIRED, actor: "system", details: { defaulted: applyDefault } });
    if (updated!.callback_url) await q.insertCallback(client, row.id, revision, updated!.callback_url);
    await q.notifyChange(client, revision);
    return updated!;
  }

  async #load(db: Pool | PoolClient, row: q.DecisionRow): Promise<Decision> {
    return toDecision(row, await q.listAnswers(db, [row.id]));
  }
}
