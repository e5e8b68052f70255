/**
 * Checks a human's answer (or a request's default_response) against a decision's spec: the
 * action, a value of the spec's kind, and that value's rules. Pure: no database, no gRPC.
 */
import { clone, create } from "@bufbuild/protobuf";
import { DecisionResponseSchema, FilesValueSchema, ResponseAction, type DecisionResponse } from "../../gen/coordinator/v1/decision_response_pb.js";
import type { DecisionSpec, FormSpec, SelectionSpec } from "../../gen/coordinator/v1/decision_spec_pb.js";
import type { JsonObject } from "@bufbuild/protobuf";
import { InvalidFieldError } from "./errors.js";
import { checkFieldValue } from "./field-values.js";
import { checkFiles } from "./file-rules.js";
import { DEFAULT_DECISION_LIMITS } from "./limits.js";
import { checkText, quote } from "./text-rules.js";

export { checkFieldValue } from "./field-values.js";

/** The value case an accepting answer carries for each spec kind (confirmation: none). */
const VALUE_FOR_KIND = {
  confirmation: undefined,
  selection: "selection",
  form: "form",
  fileUpload: "files",
} as const;

/** How a value case is spelled in the contract (and so in field paths). */
const VALUE_NAME = { selection: "selection", form: "form", files: "files" } as const;

/**
 * Checks an answer against the spec it answers.
 *
 * @param spec - the decision's spec, already checked by CreateDecision.
 * @param response - the answer; undefined is refused as "<prefix>: required".
 * @param prefix - the answer's path in the request: "response" for Respond, "default_response"
 *   for CreateDecision; every error names a path below it.
 * @param serverMaxFileBytes - the server's per-file cap, which a spec's max_bytes of 0 is lowered
 *   to (DecisionLimits.maxFileBytes).
 * @returns a normalized copy: every uploaded file carries the server's size_bytes and sha256.
 * @throws InvalidFieldError naming the first bad field.
 */
export function checkResponse(
  spec: DecisionSpec,
  response: DecisionResponse | undefined,
  prefix = "response",
  serverMaxFileBytes = DEFAULT_DECISION_LIMITS.maxFileBytes,
): DecisionResponse {
  if (!response) throw new InvalidFieldError(prefix, "required");
  const kind = spec.kind.case;
  if (kind === undefined) throw new Error("checkResponse: the decision's spec has no kind");
  const value = `${prefix}.value`;
  const given = response.value.case;
  switch (response.action) {
    case ResponseAction.ACCEPT:
      break;
    case ResponseAction.DECLINE:
      // A decline is a refusal, not an answer: carrying a value would make it ambiguous.
      if (given !== undefined) throw new InvalidFieldError(value, `must be absent when declining (got ${VALUE_NAME[given]})`);
      break;
    case ResponseAction.UNSPECIFIED:
      throw new InvalidFieldError(`${prefix}.action`, "required (RESPONSE_ACTION_ACCEPT or RESPONSE_ACTION_DECLINE)");
    default:
      throw new InvalidFieldError(`${prefix}.action`, `unknown value ${response.action as number}`);
  }
  checkText(`${prefix}.comment`, response.comment, { max: 4_096 });
  if (response.action === ResponseAction.DECLINE) return clone(DecisionResponseSchema, response);

  const expected = VALUE_FOR_KIND[kind];
  if (expected === undefined) {
    if (given !== undefined) throw new InvalidFieldError(value, `a confirmation is accepted without a value (got ${VALUE_NAME[given]})`);
    return clone(DecisionResponseSchema, response);
  }
  if (given === undefined) throw new InvalidFieldError(value, `required: accepting a ${kindName(kind)} carries value.${expected}`);
  if (given !== expected) throw new InvalidFieldError(value, `expected ${expected} for a ${kindName(kind)} decision, got ${VALUE_NAME[given]}`);

  const checked = clone(DecisionResponseSchema, response);
  if (spec.kind.case === "selection" && checked.value.case === "selection") {
    checkSelection(`${value}.selection`, spec.kind.value, checked.value.value.values);
  } else if (spec.kind.case === "form" && checked.value.case === "form") {
    checkForm(`${value}.form`, spec.kind.value, checked.value.value);
  } else if (spec.kind.case === "fileUpload" && checked.value.case === "files") {
    const files = checkFiles(`${value}.files`, spec.kind.value, checked.value.value.files, serverMaxFileBytes);
    checked.value = { case: "files", value: create(FilesValueSchema, { files }) };
  }
  return checked;
}

function kindName(kind: keyof typeof VALUE_FOR_KIND): string {
  return kind === "fileUpload" ? "file_upload" : kind;
}

function checkSelection(path: string, spec: SelectionSpec, values: readonly string[]): void {
  const list = `${path}.values`;
  const seen = new Map<string, number>();
  values.forEach((value, i) => {
    if (!spec.options.some((option) => option.value === value)) throw new InvalidFieldError(`${list}[${i}]`, `${quote(value)} is not one of the options`);
    const first = seen.get(value);
    if (first !== undefined) throw new InvalidFieldError(`${list}[${i}]`, `${quote(value)} repeats values[${first}]`);
    seen.set(value, i);
  });
  if (!spec.multiple) {
    if (values.length !== 1) throw new InvalidFieldError(list, `exactly one option must be chosen, got ${values.length}`);
    return;
  }
  const min = spec.minSelected || 1;
  const max = spec.maxSelected || spec.options.length;
  if (values.length < min) throw new InvalidFieldError(list, `${values.length} chosen, at least ${min} required`);
  if (values.length > max) throw new InvalidFieldError(list, `${values.length} chosen, at most ${max} allowed`);
}

function checkForm(path: string, spec: FormSpec, form: JsonObject): void {
  const fields = new Map(spec.fields.map((field) => [field.name, field]));
  for (const name of Object.keys(form)) {
    // A misspelt name would otherwise drop the value silently while the author thinks it was sent.
    if (!fields.has(name)) throw new InvalidFieldError(`${path}.${name}`, "unknown field");
  }
  for (const field of spec.fields) {
    // Own keys only: "constructor" or "__proto__" are valid field names, not inherited members.
    const value = Object.hasOwn(form, field.name) ? form[field.name] : undefined;
    if (value === undefined) {
      if (field.required) throw new InvalidFieldError(`${path}.${field.name}`, "required");
      continue;
    }
    checkFieldValue(field, value, `${path}.${field.name}`);
  }
}
