/**
 * The checks every decision command starts with, and the refusals they give: a well-formed id,
 * the caller's right to change the decision, and the decision still being pending.
 */
import type { Principal } from "../auth/authenticator.js";
import { DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import type { DecisionRow } from "./decision-queries.js";
import { DecisionError, InvalidFieldError } from "./errors.js";

/** Who acts: the authenticated key's principal and role. */
export type Actor = Pick<Principal, "principal" | "role">;

const STATUS_WORD: Record<number, string> = {
  [DecisionStatus.PENDING]: "pending",
  [DecisionStatus.COMPLETED]: "completed",
  [DecisionStatus.EXPIRED]: "expired",
  [DecisionStatus.CANCELLED]: "cancelled",
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The id, when it is a UUID. @throws InvalidFieldError "decision_id". */
export function checkId(id: string): string {
  if (!id) throw new InvalidFieldError("decision_id", "is required");
  if (!UUID.test(id)) throw new InvalidFieldError("decision_id", `must be a decision id (a UUID); got "${id.slice(0, 64)}"`);
  return id;
}

/** NOT_FOUND for `id`. */
export function notFound(id: string): DecisionError {
  return new DecisionError("not_found", `no decision ${id}`);
}

/** FAILED_PRECONDITION saying which final state the decision is in, and since when. */
export function notPending(row: DecisionRow): DecisionError {
  const when = row.resolved_at ? ` at ${row.resolved_at.toISOString()}` : "";
  return new DecisionError("failed_precondition", `decision ${row.id} is already ${STATUS_WORD[row.status]}${when}`);
}

/** Workflows may change only the decisions they created; operators and admins any. */
export function checkOwner(row: DecisionRow, actor: Actor): void {
  if (actor.role === "workflow" && row.created_by !== actor.principal) {
    throw new DecisionError("permission_denied", `decision ${row.id} was created by ${row.created_by}; a workflow key may only change its own decisions`);
  }
}
