/**
 * Checks a CreateDecisionRequest against the contract (decision_commands.proto, decision_spec.proto,
 * decision_policy.proto): every rule the comments state, each failure an InvalidFieldError naming
 * the field as the client wrote it ("spec.form.fields[2].pattern"). Pure: no database, no gRPC.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type { CreateDecisionRequest } from "../../gen/coordinator/v1/decision_commands_pb.js";
import { TimeoutPolicy, type ApprovalPolicy } from "../../gen/coordinator/v1/decision_policy_pb.js";
import type { DecisionSpec, SelectionSpec } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { checkCallbackUrl } from "./callback-url.js";
import { InvalidFieldError } from "./errors.js";
import { checkFileUploadSpec } from "./file-rules.js";
import { checkFormSpec } from "./form-spec.js";
import type { DecisionLimits } from "./limits.js";
import { checkResponse } from "./response-validation.js";
import { checkOptions } from "./selection-options.js";
import { checkId, checkText, quote } from "./text-rules.js";

export { DEFAULT_DECISION_LIMITS, type DecisionLimits } from "./limits.js";
export { resolvedMaxFileBytes } from "./file-rules.js";

/** Most assignees of one decision. */
export const MAX_ASSIGNEES = 100;

/** Largest context, JSON-encoded (UTF-8 bytes). */
export const MAX_CONTEXT_BYTES = 64 * 1024;

/**
 * Checks a CreateDecision request, in field order; the first bad field wins.
 *
 * @throws InvalidFieldError naming the bad field.
 */
export function checkCreateRequest(request: CreateDecisionRequest, limits: DecisionLimits): void {
  checkId("request_key", request.requestKey, 200);
  checkId("workflow_id", request.workflowId, 128);
  checkText("title", request.title, { min: 1, max: 200 });
  checkText("message", request.message, { max: 10_000 });
  checkDecisionSpec("spec", request.spec, limits);
  resolvedTimeoutMs(request, limits);
  checkTimeoutPolicy(request);
  // The default is an answer like any other: what a human could not send, expiry must not apply.
  if (request.defaultResponse) checkResponse(request.spec!, request.defaultResponse, "default_response", limits.maxFileBytes);
  checkAssignees(request.assignees);
  checkApproval(request.approval, request.assignees.length);
  checkCallbackUrl("callback_url", request.callbackUrl, limits);
  if (request.context) checkContext("context", request.context);
}

/**
 * The decision's timeout in milliseconds: the request's, or the server default when it sets none
 * (unset or zero).
 *
 * @throws InvalidFieldError "timeout" when it is negative, malformed or outside the server's range.
 */
export function resolvedTimeoutMs(request: CreateDecisionRequest, limits: DecisionLimits): number {
  const timeout = request.timeout;
  if (!timeout || (timeout.seconds === 0n && timeout.nanos === 0)) return limits.defaultTimeoutMs;
  const { seconds, nanos } = timeout;
  // Duration's own rules: |nanos| < 1e9 and the same sign as seconds.
  if (nanos <= -1e9 || nanos >= 1e9 || (seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0)) {
    throw new InvalidFieldError("timeout", "not a valid duration (nanos out of range or of the other sign than seconds)");
  }
  const ms = Number(seconds) * 1_000 + nanos / 1e6;
  if (ms < 0) throw new InvalidFieldError("timeout", "must be positive (or 0 for the default)");
  if (ms < limits.minTimeoutMs || ms > limits.maxTimeoutMs) {
    throw new InvalidFieldError("timeout", `${formatMs(ms)} is outside the allowed range of ${formatMs(limits.minTimeoutMs)} to ${formatMs(limits.maxTimeoutMs)}`);
  }
  // Deadlines are kept to the millisecond; round up so a valid timeout never becomes shorter.
  return Math.ceil(ms);
}

/**
 * Checks a decision spec: exactly one kind, and that kind's own rules.
 *
 * @param path - the spec's path in the request, "spec".
 * @throws InvalidFieldError naming the bad part, e.g. "spec.selection.options[1].value".
 */
export function checkDecisionSpec(path: string, spec: DecisionSpec | undefined, limits: DecisionLimits): asserts spec is DecisionSpec {
  if (!spec) throw new InvalidFieldError(path, "required");
  const kind = spec.kind;
  switch (kind.case) {
    case "confirmation":
      checkText(`${path}.confirmation.confirm_label`, kind.value.confirmLabel, { max: 64 });
      checkText(`${path}.confirmation.decline_label`, kind.value.declineLabel, { max: 64 });
      return;
    case "selection":
      return checkSelectionSpec(`${path}.selection`, kind.value);
    case "form":
      return checkFormSpec(`${path}.form`, kind.value);
    case "fileUpload":
      return checkFileUploadSpec(`${path}.file_upload`, kind.value, limits.maxFileBytes);
    default:
      throw new InvalidFieldError(path, "one of confirmation, selection, form or file_upload is required");
  }
}

function checkSelectionSpec(path: string, spec: SelectionSpec): void {
  checkOptions(`${path}.options`, spec.options);
  if (!spec.multiple) {
    // Without multiple an answer is exactly one option; bounds would say otherwise and confuse.
    if (spec.minSelected !== 0) throw new InvalidFieldError(`${path}.min_selected`, "only allowed with multiple");
    if (spec.maxSelected !== 0) throw new InvalidFieldError(`${path}.max_selected`, "only allowed with multiple");
    return;
  }
  const count = spec.options.length;
  if (spec.maxSelected > count) throw new InvalidFieldError(`${path}.max_selected`, `${spec.maxSelected} is over the ${count} options`);
  const min = spec.minSelected || 1;
  const max = spec.maxSelected || count;
  if (spec.maxSelected !== 0 && max < min) throw new InvalidFieldError(`${path}.max_selected`, `${max} is under min_selected ${min}`);
  if (min > max) throw new InvalidFieldError(`${path}.min_selected`, `${min} is over the ${count} options`);
}

function checkTimeoutPolicy(request: CreateDecisionRequest): void {
  const policy = request.onTimeout;
  if (TimeoutPolicy[policy] === undefined) throw new InvalidFieldError("on_timeout", `unknown value ${policy}`);
  if (policy === TimeoutPolicy.APPLY_DEFAULT && !request.defaultResponse) {
    throw new InvalidFieldError("default_response", "required with on_timeout TIMEOUT_POLICY_APPLY_DEFAULT");
  }
}

function checkAssignees(assignees: readonly string[]): void {
  if (assignees.length > MAX_ASSIGNEES) throw new InvalidFieldError("assignees", `${assignees.length} assignees, over the limit of ${MAX_ASSIGNEES}`);
  const seen = new Map<string, number>();
  assignees.forEach((assignee, i) => {
    checkId(`assignees[${i}]`, assignee, 200);
    const first = seen.get(assignee);
    if (first !== undefined) throw new InvalidFieldError(`assignees[${i}]`, `${quote(assignee)} repeats assignees[${first}]`);
    seen.set(assignee, i);
  });
}

function checkApproval(approval: ApprovalPolicy | undefined, assigneeCount: number): void {
  const rule = approval?.rule;
  if (rule?.case === "all" && assigneeCount === 0) {
    throw new InvalidFieldError("approval.all", "requires assignees (everyone who must accept)");
  }
  if (rule?.case === "quorum") {
    const required = rule.value.required;
    if (required < 1) throw new InvalidFieldError("approval.quorum.required", "must be at least 1");
    if (assigneeCount > 0 && required > assigneeCount) {
      throw new InvalidFieldError("approval.quorum.required", `${required} is over the ${assigneeCount} assignees`);
    }
  }
}

function checkContext(path: string, context: JsonObject): void {
  const bytes = Buffer.byteLength(JSON.stringify(context), "utf8");
  if (bytes > MAX_CONTEXT_BYTES) throw new InvalidFieldError(path, `${bytes} bytes JSON-encoded, over the limit of ${MAX_CONTEXT_BYTES}`);
}

/** "90 s", "2 h", "30 days": a duration for a message. */
function formatMs(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} days`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}
