/**
 * How the decisions command prints decisions: tables for people, protobuf JSON for scripts.
 */
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { DecisionAuditAction, type DecisionAuditEntry } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { DecisionSchema, DecisionStatus, type Decision } from "../../gen/coordinator/v1/decision_pb.js";
import { ResponseAction, type DecisionResponse } from "../../gen/coordinator/v1/decision_response_pb.js";
import { FieldType, type DecisionSpec } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { table, time } from "./text-table.js";

/** "pending", "completed", ... */
export function statusName(status: DecisionStatus): string {
  return (DecisionStatus[status] ?? String(status)).toLowerCase();
}

/** The decision as protobuf JSON (what `--json` prints). */
export function decisionJson(decision: Decision): JsonValue {
  return toJson(DecisionSchema, decision);
}

/** The kind of answer asked for, in a few words: "confirmation", "selection (3 options)". */
export function kindSummary(spec: DecisionSpec | undefined): string {
  const kind = spec?.kind;
  switch (kind?.case) {
    case "confirmation":
      return "confirmation";
    case "selection":
      return `selection${kind.value.multiple ? " (multiple)" : ""} of ${kind.value.options.length}`;
    case "form":
      return `form, ${kind.value.fields.length} field${kind.value.fields.length === 1 ? "" : "s"}`;
    case "fileUpload":
      return "file upload";
    default:
      return "-";
  }
}

/** One answer in a few words: "accept: prod", "decline (too risky)". */
export function responseSummary(response: DecisionResponse | undefined): string {
  if (!response) return "-";
  const action = response.action === ResponseAction.ACCEPT ? "accept" : response.action === ResponseAction.DECLINE ? "decline" : "?";
  let value = "";
  switch (response.value.case) {
    case "selection":
      value = response.value.value.values.join(", ");
      break;
    case "form":
      value = JSON.stringify(response.value.value);
      break;
    case "files":
      value = response.value.value.files.map((f) => `${f.name} (${f.sizeBytes} bytes, sha256 ${f.sha256.slice(0, 12)}…)`).join(", ");
      break;
  }
  return `${action}${value ? `: ${value}` : ""}${response.comment ? ` (${response.comment})` : ""}`;
}

/** The `decisions list` table. */
export function listTable(decisions: readonly Decision[]): string {
  if (decisions.length === 0) return "no decisions\n";
  return table(
    ["id", "status", "workflow", "kind", "created_at", "expires_at", "title"],
    decisions.map((d) => [d.id, statusName(d.status), d.workflowId, kindSummary(d.spec), time(d.createdAt), time(d.expiresAt), d.title]),
  );
}

/** One line per change for `decisions watch`. */
export function watchLine(decision: Decision): string {
  const outcome = decision.status === DecisionStatus.PENDING ? `expires ${time(decision.expiresAt)}` : responseSummary(decision.outcome);
  return `${decision.revision}  ${statusName(decision.status).padEnd(9)}  ${decision.id}  ${decision.workflowId}  ${JSON.stringify(decision.title)}  ${kindSummary(decision.spec)}  ${outcome}\n`;
}

/** The `decisions show` view: the decision's fields, what it asks, its answers and audit trail. */
export function showText(decision: Decision, audit: readonly DecisionAuditEntry[]): string {
  const rows: [string, string][] = [
    ["id", decision.id],
    ["status", statusName(decision.status)],
    ["title", decision.title],
    ["workflow", decision.workflowId],
    ["request_key", decision.requestKey],
    ["created_by", decision.createdBy],
    ["created_at", time(decision.createdAt)],
    ["expires_at", time(decision.expiresAt)],
    ["resolved_at", time(decision.resolvedAt)],
    ["assignees", decision.assignees.join(", ")],
    ["asks", kindSummary(decision.spec)],
    ["outcome", decision.outcome ? `${responseSummary(decision.outcome)}${decision.defaulted ? " [default applied at expiry]" : ""}` : "-"],
    ["cancel_reason", decision.cancelReason],
    ["revision", String(decision.revision)],
  ];
  let text = table(["field", "value"], rows);
  if (decision.message) text += `\n${decision.message}\n`;
  text += `\n${specText(decision.spec)}`;
  if (decision.responses.length) {
    text += "\nanswers:\n" + table(["responder", "at", "answer"], decision.responses.map((a) => [a.responder, time(a.respondedAt), responseSummary(a.response)]));
  }
  if (audit.length) {
    text +=
      "\naudit:\n" +
      table(
        ["revision", "at", "action", "actor", "details"],
        audit.map((e) => [String(e.revision), time(e.at), auditName(e.action), e.actor, e.details ? JSON.stringify(e.details) : ""]),
      );
  }
  return text;
}

function auditName(action: DecisionAuditAction): string {
  return (DecisionAuditAction[action] ?? String(action)).toLowerCase();
}

/** What the spec asks, option by option and field by field (shown by `show` and `respond`). */
export function specText(spec: DecisionSpec | undefined): string {
  const kind = spec?.kind;
  switch (kind?.case) {
    case "confirmation":
      return `confirm: ${kind.value.confirmLabel || "Confirm"} / ${kind.value.declineLabel || "Decline"}\n`;
    case "selection":
      return (
        `options${kind.value.multiple ? ` (choose ${kind.value.minSelected || 1} to ${kind.value.maxSelected || kind.value.options.length})` : " (choose one)"}:\n` +
        kind.value.options.map((o, i) => `  ${i + 1}. ${o.label || o.value}${o.label ? ` [${o.value}]` : ""}${o.description ? ` - ${o.description}` : ""}\n`).join("")
      );
    case "form":
      return (
        "fields:\n" +
        kind.value.fields
          .map((f) => `  ${f.name}: ${(FieldType[f.type] ?? "?").toLowerCase()}${f.required ? ", required" : ""}${f.label ? ` - ${f.label}` : ""}\n`)
          .join("")
      );
    case "fileUpload":
      return `files: ${kind.value.minFiles || 1} to ${kind.value.maxFiles || 1}${kind.value.acceptTypes.length ? `, of ${kind.value.acceptTypes.join(", ")}` : ""}\n`;
    default:
      return "";
  }
}
