/**
 * The JSON body POSTed to a callback_url: the final decision, snake_case at the top level, the
 * outcome and answers as protobuf JSON. Uploaded file bytes are left out (size_bytes and sha256
 * stay, as in WatchDecisions): a callback stays small, and GetDecision returns the bytes.
 */
import { toJson, type JsonObject } from "@bufbuild/protobuf";
import { DecisionAnswerSchema, DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import { DecisionResponseSchema } from "../../gen/coordinator/v1/decision_response_pb.js";
import { toDecision } from "./decision-mapping.js";
import type { AnswerRow, DecisionRow } from "./decision-queries.js";

/** The callback body (see the module comment). */
export interface CallbackPayload {
  decision_id: string;
  workflow_id: string;
  /** COMPLETED, EXPIRED or CANCELLED. */
  status: string;
  /** The revision of the final state (also in x-mcpc-delivery). */
  revision: number;
  /** True when the outcome is the default response applied at expiry. */
  defaulted: boolean;
  /** The deciding coordinator.v1.DecisionResponse as protobuf JSON; null when there is none. */
  outcome: JsonObject | null;
  /** Every coordinator.v1.DecisionAnswer as protobuf JSON, oldest first. */
  responses: JsonObject[];
  cancel_reason: string;
  /** The workflow's context, as given at create; null when none was. */
  context: JsonObject | null;
  /** RFC 3339. */
  resolved_at: string | null;
  request_key: string;
}

/** The body for the final state of `row` at `revision`, and its answers. */
export function callbackPayload(row: DecisionRow, answers: readonly AnswerRow[], revision: bigint): CallbackPayload {
  const decision = toDecision(row, answers, "without-contents");
  return {
    decision_id: row.id,
    workflow_id: row.workflow_id,
    status: DecisionStatus[row.status] ?? String(row.status),
    // Revisions come from a sequence that stays far below 2^53.
    revision: Number(revision),
    defaulted: row.defaulted,
    outcome: decision.outcome ? (toJson(DecisionResponseSchema, decision.outcome) as JsonObject) : null,
    responses: decision.responses.map((answer) => toJson(DecisionAnswerSchema, answer) as JsonObject),
    cancel_reason: row.cancel_reason,
    context: row.context,
    resolved_at: row.resolved_at ? row.resolved_at.toISOString() : null,
    request_key: row.request_key,
  };
}
