/**
 * Stored rows to coordinator.v1 messages: a decision with its answers, and audit entries.
 */
import { create, fromBinary, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DecisionAuditEntrySchema, type DecisionAuditEntry } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { DecisionAnswerSchema, DecisionSchema, type Decision } from "../../gen/coordinator/v1/decision_pb.js";
import { ApprovalPolicySchema, type ApprovalPolicy } from "../../gen/coordinator/v1/decision_policy_pb.js";
import { DecisionResponseSchema, type DecisionResponse } from "../../gen/coordinator/v1/decision_response_pb.js";
import { DecisionSpecSchema } from "../../gen/coordinator/v1/decision_spec_pb.js";
import type { AnswerRow, AuditRow, DecisionRow } from "./decision-queries.js";

/** How much of uploaded files a returned decision carries. */
export type FileContents = "with-contents" | "without-contents";

/**
 * The Decision message of a row and its answers (oldest first).
 *
 * @param files - "without-contents" for lists and watch streams: file bytes are left out, their
 *   size and sha256 stay (see UploadedFile.content).
 */
export function toDecision(row: DecisionRow, answers: readonly AnswerRow[], files: FileContents = "with-contents"): Decision {
  const response = (bytes: Buffer | null) => (bytes === null ? undefined : stripFiles(fromBinary(DecisionResponseSchema, bytes), files));
  return create(DecisionSchema, {
    id: row.id,
    requestKey: row.request_key,
    workflowId: row.workflow_id,
    title: row.title,
    message: row.message,
    spec: fromBinary(DecisionSpecSchema, row.spec),
    status: row.status,
    createdAt: timestampFromDate(row.created_at),
    expiresAt: timestampFromDate(row.expires_at),
    resolvedAt: row.resolved_at ? timestampFromDate(row.resolved_at) : undefined,
    responses: answers.map((a) =>
      create(DecisionAnswerSchema, {
        responder: a.responder,
        respondedAt: timestampFromDate(a.responded_at),
        response: response(a.response),
        responseKey: a.response_key,
      }),
    ),
    outcome: response(row.outcome),
    defaulted: row.defaulted,
    cancelReason: row.cancel_reason,
    revision: BigInt(row.revision),
    createdBy: row.created_by,
    assignees: row.assignees,
    approval: approvalOf(row),
    onTimeout: row.on_timeout,
    defaultResponse: response(row.default_response),
    forbidCreatorResponse: row.forbid_creator_response,
    callbackUrl: row.callback_url,
    context: row.context ?? undefined,
    updatedAt: timestampFromDate(row.updated_at),
    cancelledBy: row.cancelled_by,
  });
}

function stripFiles(response: DecisionResponse, files: FileContents): DecisionResponse {
  if (files === "without-contents" && response.value.case === "files") {
    for (const file of response.value.value.files) file.content = new Uint8Array();
  }
  return response;
}

/** The stored approval policy (undefined when none was set: any). */
export function approvalOf(row: DecisionRow): ApprovalPolicy | undefined {
  return row.approval.length > 0 ? fromBinary(ApprovalPolicySchema, row.approval) : undefined;
}

/** Answers grouped by decision id (each group oldest first, as listAnswers returns them). */
export function answersByDecision(answers: readonly AnswerRow[]): (decisionId: string) => AnswerRow[] {
  const groups = new Map<string, AnswerRow[]>();
  for (const answer of answers) {
    const group = groups.get(answer.decision_id);
    if (group) group.push(answer);
    else groups.set(answer.decision_id, [answer]);
  }
  return (decisionId) => groups.get(decisionId) ?? [];
}

/** The DecisionAuditEntry message of an audit row. */
export function toAuditEntry(row: AuditRow): DecisionAuditEntry {
  return create(DecisionAuditEntrySchema, {
    id: BigInt(row.id),
    decisionId: row.decision_id,
    revision: BigInt(row.revision),
    action: row.action,
    actor: row.actor,
    at: timestampFromDate(row.at),
    details: row.details as JsonObject,
  });
}
