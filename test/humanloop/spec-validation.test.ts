import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { expect } from "chai";
import { CreateDecisionRequestSchema, type CreateDecisionRequest } from "../../gen/coordinator/v1/decision_commands_pb.js";
import { TimeoutPolicy } from "../../gen/coordinator/v1/decision_policy_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { FieldType, FileUploadSpecSchema, FormFieldSchema, SelectionOptionSchema, type FormField } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { InvalidFieldError } from "../../src/humanloop/errors.js";
import { checkCreateRequest, DEFAULT_DECISION_LIMITS, resolvedMaxFileBytes, resolvedTimeoutMs, type DecisionLimits } from "../../src/humanloop/spec-validation.js";
import { expectInvalid } from "./expect-field.js";

// The plain-object forms of the init shapes (not the message types), so they can be spread.
type RequestInit = Exclude<MessageInitShape<typeof CreateDecisionRequestSchema>, CreateDecisionRequest>;
type SpecInit = NonNullable<RequestInit["spec"]>;
type FieldInit = Exclude<MessageInitShape<typeof FormFieldSchema>, FormField>;
type OptionInit = MessageInitShape<typeof SelectionOptionSchema>;
type FileUploadInit = Extract<SpecInit["kind"], { case: "fileUpload" }>["value"];
type SelectionInit = Extract<SpecInit["kind"], { case: "selection" }>["value"];

const limits: DecisionLimits = { ...DEFAULT_DECISION_LIMITS, callbackAllowlist: ["hooks.example.com", "*.callbacks.example.org"] };

const CONFIRM: SpecInit = { kind: { case: "confirmation", value: {} } };
const MiB = 1024 * 1024;

function request(init: RequestInit = {}) {
  return create(CreateDecisionRequestSchema, { requestKey: "deploy-42/approve-prod", workflowId: "deploy", title: "Deploy to prod?", spec: CONFIRM, ...init });
}

function check(init: RequestInit = {}, withLimits: DecisionLimits = limits): void {
  checkCreateRequest(request(init), withLimits);
}

const valid = (init: RequestInit, withLimits?: DecisionLimits) => expect(() => check(init, withLimits)).not.to.throw();
const invalid = (init: RequestInit, field: string, reason?: RegExp, withLimits?: DecisionLimits) => expectInvalid(() => check(init, withLimits), field, reason);

const options = (...values: string[]): OptionInit[] => values.map((value) => ({ value }));
const selection = (init: SelectionInit): RequestInit => ({ spec: { kind: { case: "selection", value: init } } });
const form = (...fields: FieldInit[]): RequestInit => ({ spec: { kind: { case: "form", value: { fields } } } });
const files = (init: FileUploadInit = {}): RequestInit => ({ spec: { kind: { case: "fileUpload", value: init } } });
const oneField = (init: Partial<FieldInit>): RequestInit => form({ name: "f", type: FieldType.TEXT, ...init });
const seconds = (s: number, nanos = 0): RequestInit => ({ timeout: { seconds: BigInt(s), nanos } });

describe("create request validation", () => {
  describe("identity and text", () => {
    it("accepts a minimal confirmation request", () => {
      valid({});
    });

    it("request_key: required, 1 to 200 characters, no control characters", () => {
      invalid({ requestKey: "" }, "request_key", /required/);
      valid({ requestKey: "k".repeat(200) });
      valid({ requestKey: "😀".repeat(200) });
      invalid({ requestKey: "k".repeat(201) }, "request_key", /201 characters, over the limit of 200/);
      invalid({ requestKey: "a\nb" }, "request_key", /control/);
    });

    it("workflow_id: required, 1 to 128 characters", () => {
      invalid({ workflowId: "" }, "workflow_id", /required/);
      valid({ workflowId: "w".repeat(128) });
      invalid({ workflowId: "w".repeat(129) }, "workflow_id", /129 characters/);
    });

    it("title: required, 1 to 200 characters", () => {
      invalid({ title: "" }, "title", /required/);
      valid({ title: "t".repeat(200) });
      invalid({ title: "t".repeat(201) }, "title");
      invalid({ title: "a\u0000b" }, "title", /NUL/);
    });

    it("message: optional, at most 10,000 characters", () => {
      valid({ message: "" });
      valid({ message: "m".repeat(10_000) });
      invalid({ message: "m".repeat(10_001) }, "message", /10001 characters, over the limit of 10000/);
    });

    it("reports the first bad field in field order", () => {
      invalid({ requestKey: "", title: "" }, "request_key");
      invalid({ title: "", spec: undefined }, "title");
    });
  });

  describe("spec", () => {
    it("is required, with exactly one kind", () => {
      invalid({ spec: undefined }, "spec", /required/);
      invalid({ spec: {} }, "spec", /one of confirmation, selection, form or file_upload/);
    });

    it("confirmation: labels at most 64 characters", () => {
      valid({ spec: { kind: { case: "confirmation", value: { confirmLabel: "Deploy", declineLabel: "Abort" } } } });
      valid({ spec: { kind: { case: "confirmation", value: { confirmLabel: "c".repeat(64) } } } });
      invalid({ spec: { kind: { case: "confirmation", value: { confirmLabel: "c".repeat(65) } } } }, "spec.confirmation.confirm_label");
      invalid({ spec: { kind: { case: "confirmation", value: { declineLabel: "d".repeat(65) } } } }, "spec.confirmation.decline_label");
    });
  });

  describe("selection spec", () => {
    it("accepts single and multiple selections", () => {
      valid(selection({ options: [{ value: "blue", label: "Blue", description: "the calm one" }, { value: "green" }] }));
      valid(selection({ options: options("a", "b", "c"), multiple: true }));
      valid(selection({ options: options("a", "b", "c"), multiple: true, minSelected: 3, maxSelected: 3 }));
      valid(selection({ options: options("a", "b", "c"), multiple: true, minSelected: 2 }));
    });

    it("options: 1 to 100", () => {
      invalid(selection({ options: [] }), "spec.selection.options", /at least one/);
      valid(selection({ options: Array.from({ length: 100 }, (_, i) => ({ value: `v${i}` })) }));
      invalid(selection({ options: Array.from({ length: 101 }, (_, i) => ({ value: `v${i}` })) }), "spec.selection.options", /101 options/);
    });

    it("option values: required, 1 to 128 characters, unique", () => {
      invalid(selection({ options: options("a", "") }), "spec.selection.options[1].value", /required/);
      valid(selection({ options: options("v".repeat(128)) }));
      invalid(selection({ options: options("a", "b", "v".repeat(129)) }), "spec.selection.options[2].value", /129 characters/);
      invalid(selection({ options: options("a", "b", "a") }), "spec.selection.options[2].value", /repeats the value of option 0/);
    });

    it("option labels at most 256, descriptions at most 1,024 characters", () => {
      valid(selection({ options: [{ value: "a", label: "l".repeat(256), description: "d".repeat(1_024) }] }));
      invalid(selection({ options: [{ value: "a" }, { value: "b", label: "l".repeat(257) }] }), "spec.selection.options[1].label");
      invalid(selection({ options: [{ value: "a", description: "d".repeat(1_025) }] }), "spec.selection.options[0].description");
    });

    it("min_selected and max_selected only with multiple", () => {
      invalid(selection({ options: options("a", "b"), minSelected: 1 }), "spec.selection.min_selected", /only allowed with multiple/);
      invalid(selection({ options: options("a", "b"), maxSelected: 1 }), "spec.selection.max_selected", /only allowed with multiple/);
    });

    it("max_selected at most the option count and at least min_selected", () => {
      invalid(selection({ options: options("a", "b"), multiple: true, maxSelected: 3 }), "spec.selection.max_selected", /over the 2 options/);
      invalid(selection({ options: options("a", "b", "c"), multiple: true, minSelected: 3, maxSelected: 2 }), "spec.selection.max_selected", /under min_selected 3/);
      // max_selected 0 means all options: min_selected cannot exceed them.
      invalid(selection({ options: options("a", "b"), multiple: true, minSelected: 3 }), "spec.selection.min_selected", /over the 2 options/);
    });
  });

  describe("form spec", () => {
    it("accepts a field of every type with its applicable rules", () => {
      valid(
        form(
          { name: "text", type: FieldType.TEXT, minLength: 1, maxLength: 10, pattern: "[a-z]+", label: "Text", description: "d", placeholder: "p", required: true },
          { name: "area", type: FieldType.TEXTAREA, maxLength: 1_000 },
          { name: "num", type: FieldType.NUMBER, minimum: -1.5, maximum: 1.5 },
          { name: "int", type: FieldType.INTEGER, minimum: 1, maximum: 1 },
          { name: "flag", type: FieldType.BOOLEAN, required: true },
          { name: "mail", type: FieldType.EMAIL, pattern: ".*@example\\.com" },
          { name: "uri", type: FieldType.URI, minLength: 10 },
          { name: "day", type: FieldType.DATE },
          { name: "at", type: FieldType.DATE_TIME },
          { name: "env", type: FieldType.ENUM, options: options("prod", "staging") },
        ),
      );
    });

    it("fields: 1 to 100", () => {
      invalid(form(), "spec.form.fields", /at least one/);
      const many = (n: number) => form(...Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: FieldType.TEXT })));
      valid(many(100));
      invalid(many(101), "spec.form.fields", /101 fields/);
    });

    it("names: required, 1 to 64 characters from [A-Za-z0-9_], unique", () => {
      valid(oneField({ name: "Az_09".padEnd(64, "x") }));
      invalid(form({ name: "a", type: FieldType.TEXT }, { name: "", type: FieldType.TEXT }), "spec.form.fields[1].name", /required/);
      invalid(oneField({ name: "x".repeat(65) }), "spec.form.fields[0].name", /1 to 64 characters/);
      invalid(oneField({ name: "the-port" }), "spec.form.fields[0].name", /A-Z, a-z, 0-9 and _/);
      invalid(oneField({ name: "with space" }), "spec.form.fields[0].name");
      invalid(oneField({ name: "héllo" }), "spec.form.fields[0].name");
      invalid(form({ name: "a", type: FieldType.TEXT }, { name: "b", type: FieldType.TEXT }, { name: "a", type: FieldType.NUMBER }), "spec.form.fields[2].name", /repeats the name of field 0/);
    });

    it("type: required and known", () => {
      invalid(form({ name: "a", type: FieldType.TEXT }, { name: "b" }), "spec.form.fields[1].type", /required/);
      invalid(oneField({ type: 42 as FieldType }), "spec.form.fields[0].type", /unknown value 42/);
    });

    it("label, description and placeholder lengths", () => {
      valid(oneField({ label: "l".repeat(256), description: "d".repeat(1_024), placeholder: "p".repeat(256) }));
      invalid(oneField({ label: "l".repeat(257) }), "spec.form.fields[0].label");
      invalid(oneField({ description: "d".repeat(1_025) }), "spec.form.fields[0].description");
      invalid(oneField({ placeholder: "p".repeat(257) }), "spec.form.fields[0].placeholder");
    });

    it("min_length and max_length only for TEXT, TEXTAREA, EMAIL and URI; min <= max", () => {
      for (const type of [FieldType.TEXT, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.URI]) valid(oneField({ type, minLength: 0, maxLength: 0 }));
      for (const type of [FieldType.NUMBER, FieldType.INTEGER, FieldType.BOOLEAN, FieldType.DATE, FieldType.DATE_TIME]) {
        invalid(oneField({ type, minLength: 1 }), "spec.form.fields[0].min_length", /only for TEXT, TEXTAREA, EMAIL and URI/);
        invalid(oneField({ type, maxLength: 1 }), "spec.form.fields[0].max_length");
      }
      invalid(oneField({ type: FieldType.ENUM, options: options("a"), maxLength: 0 }), "spec.form.fields[0].max_length", /not ENUM/);
      valid(oneField({ minLength: 3, maxLength: 3 }));
      invalid(oneField({ minLength: 4, maxLength: 3 }), "spec.form.fields[0].max_length", /3 is under min_length 4/);
    });

    it("pattern only for TEXT, TEXTAREA, EMAIL and URI", () => {
      for (const type of [FieldType.TEXT, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.URI]) valid(oneField({ type, pattern: ".+" }));
      invalid(oneField({ type: FieldType.NUMBER, pattern: "\\d+" }), "spec.form.fields[0].pattern", /only for TEXT/);
      invalid(oneField({ type: FieldType.DATE, pattern: ".*" }), "spec.form.fields[0].pattern");
      invalid(oneField({ type: FieldType.ENUM, options: options("a"), pattern: "a" }), "spec.form.fields[0].pattern");
    });

    it("pattern: at most 1,024 characters, compiles in Unicode mode", () => {
      valid(oneField({ pattern: "a".repeat(1_024) }));
      invalid(oneField({ pattern: "a".repeat(1_025) }), "spec.form.fields[0].pattern", /1025 characters/);
      invalid(form({ name: "a", type: FieldType.TEXT }, { name: "b", type: FieldType.TEXT }, { name: "c", type: FieldType.TEXT, pattern: "(" }), "spec.form.fields[2].pattern", /does not compile/);
      invalid(oneField({ pattern: "[z-a]" }), "spec.form.fields[0].pattern", /does not compile/);
      // Valid without the u flag, invalid with it: the server compiles in Unicode mode.
      invalid(oneField({ pattern: "\\-" }), "spec.form.fields[0].pattern", /does not compile/);
      // The anchoring group cannot be closed from inside the pattern.
      invalid(oneField({ pattern: "a)|(b" }), "spec.form.fields[0].pattern", /does not compile/);
      valid(oneField({ pattern: "\\p{Lu}\\d{2}" }));
    });

    it("minimum and maximum only for NUMBER and INTEGER; finite; min <= max", () => {
      for (const type of [FieldType.TEXT, FieldType.BOOLEAN, FieldType.DATE]) {
        invalid(oneField({ type, minimum: 0 }), "spec.form.fields[0].minimum", /only for NUMBER and INTEGER/);
        invalid(oneField({ type, maximum: 0 }), "spec.form.fields[0].maximum", /only for NUMBER and INTEGER/);
      }
      valid(oneField({ type: FieldType.NUMBER, minimum: 2.5, maximum: 2.5 }));
      invalid(oneField({ type: FieldType.INTEGER, minimum: 2, maximum: 1 }), "spec.form.fields[0].maximum", /1 is under minimum 2/);
      invalid(oneField({ type: FieldType.NUMBER, minimum: Number.NaN }), "spec.form.fields[0].minimum", /finite/);
      invalid(oneField({ type: FieldType.NUMBER, maximum: Number.POSITIVE_INFINITY }), "spec.form.fields[0].maximum", /finite/);
    });

    it("options: required for ENUM (1 to 100, unique values), refused otherwise", () => {
      invalid(oneField({ type: FieldType.ENUM }), "spec.form.fields[0].options", /at least one/);
      invalid(oneField({ type: FieldType.ENUM, options: Array.from({ length: 101 }, (_, i) => ({ value: `v${i}` })) }), "spec.form.fields[0].options", /101 options/);
      invalid(oneField({ type: FieldType.ENUM, options: options("a", "a") }), "spec.form.fields[0].options[1].value", /repeats/);
      invalid(oneField({ type: FieldType.ENUM, options: options("a", "") }), "spec.form.fields[0].options[1].value", /required/);
      invalid(form({ name: "a", type: FieldType.ENUM, options: [{ value: "x", label: "l".repeat(257) }] }), "spec.form.fields[0].options[0].label");
      invalid(oneField({ type: FieldType.TEXT, options: options("a") }), "spec.form.fields[0].options", /only for ENUM fields, not TEXT/);
    });

    it("default_value: of the field's type, passing its rules", () => {
      const str = (value: string) => ({ kind: { case: "stringValue" as const, value } });
      const num = (value: number) => ({ kind: { case: "numberValue" as const, value } });
      valid(oneField({ defaultValue: str("abc"), pattern: "[a-c]+" }));
      valid(oneField({ type: FieldType.INTEGER, minimum: 1, maximum: 10, defaultValue: num(10) }));
      valid(oneField({ type: FieldType.BOOLEAN, defaultValue: { kind: { case: "boolValue", value: false } } }));
      valid(oneField({ type: FieldType.ENUM, options: options("a", "b"), defaultValue: str("b") }));
      valid(oneField({ type: FieldType.DATE, defaultValue: str("2025-01-31") }));
      invalid(oneField({ type: FieldType.TEXT, defaultValue: num(1) }), "spec.form.fields[0].default_value", /expected a string, got a number/);
      invalid(oneField({ defaultValue: str("abd"), pattern: "[a-c]+" }), "spec.form.fields[0].default_value", /does not match/);
      invalid(oneField({ defaultValue: str("a\nb") }), "spec.form.fields[0].default_value", /single line/);
      invalid(oneField({ type: FieldType.INTEGER, maximum: 10, defaultValue: num(11) }), "spec.form.fields[0].default_value", /over the maximum/);
      invalid(oneField({ type: FieldType.ENUM, options: options("a", "b"), defaultValue: str("c") }), "spec.form.fields[0].default_value", /not one of the options/);
      invalid(oneField({ type: FieldType.DATE, defaultValue: str("2025-02-30") }), "spec.form.fields[0].default_value", /calendar date/);
      invalid(oneField({ type: FieldType.TEXT, defaultValue: { kind: { case: "nullValue", value: 0 } } }), "spec.form.fields[0].default_value", /got null/);
      invalid(oneField({ type: FieldType.TEXT, required: true, defaultValue: str("") }), "spec.form.fields[0].default_value", /required/);
      invalid(oneField({ defaultValue: {} }), "spec.form.fields[0].default_value", /not a JSON value/);
      invalid(oneField({ type: FieldType.NUMBER, defaultValue: num(Number.NaN) }), "spec.form.fields[0].default_value", /not a JSON value/);
    });

    it("checks a field's rules before its default value", () => {
      invalid(oneField({ pattern: "(", defaultValue: { kind: { case: "stringValue", value: "x" } } }), "spec.form.fields[0].pattern");
    });
  });

  describe("file_upload spec", () => {
    it("accepts well-formed accept_types", () => {
      valid(files({ acceptTypes: ["application/json", "image/*", "*/*", ".yaml", ".tar.gz", "application/vnd.api+json", "TEXT/Plain"] }));
      valid(files({}));
    });

    it("names a malformed accept_types entry", () => {
      for (const entry of ["", "image", "image/", "/png", "*/json", "image/sv*", "ima*ge/png", ".", "..", ".tar..gz", ". yaml", "a b/c", "text/plain; charset=utf-8", ".a/b", "image/png/x"]) {
        invalid(files({ acceptTypes: ["application/json", entry] }), "spec.file_upload.accept_types[1]", /not a media type/);
      }
    });

    it("max_bytes: 0 or up to the server's per-file limit", () => {
      valid(files({ maxBytes: 0n }));
      valid(files({ maxBytes: BigInt(10 * MiB) }));
      invalid(files({ maxBytes: BigInt(10 * MiB + 1) }), "spec.file_upload.max_bytes", /does not fit the server's limit of 10485760/);
      const small = { ...limits, maxFileBytes: 1_000 };
      valid(files({ maxBytes: 0n }), small);
      valid(files({ maxBytes: 1_000n }), small);
      invalid(files({ maxBytes: 1_001n }), "spec.file_upload.max_bytes", undefined, small);
      invalid(files({ maxBytes: 2n ** 64n - 1n }), "spec.file_upload.max_bytes");
    });

    it("resolves max_bytes 0 to 10 MiB lowered to the server's limit", () => {
      const spec = (maxBytes: bigint) => create(FileUploadSpecSchema, { maxBytes });
      expect(resolvedMaxFileBytes(spec(0n), 64 * MiB)).to.equal(10 * MiB);
      expect(resolvedMaxFileBytes(spec(0n), 4 * MiB)).to.equal(4 * MiB);
      expect(resolvedMaxFileBytes(spec(1_234n), 4 * MiB)).to.equal(1_234);
    });

    it("min_files <= max_files, 0 meaning 1", () => {
      valid(files({ minFiles: 0, maxFiles: 0 }));
      valid(files({ minFiles: 3, maxFiles: 3 }));
      valid(files({ maxFiles: 5 }));
      invalid(files({ minFiles: 2 }), "spec.file_upload.min_files", /2 is over max_files 1 \(0 means 1\)/);
      invalid(files({ minFiles: 4, maxFiles: 3 }), "spec.file_upload.min_files");
    });
  });

  describe("timeout", () => {
    it("0 or unset: the server default", () => {
      expect(resolvedTimeoutMs(request(), limits)).to.equal(3_600_000);
      expect(resolvedTimeoutMs(request(seconds(0)), limits)).to.equal(3_600_000);
      expect(resolvedTimeoutMs(request(), { ...limits, defaultTimeoutMs: 5_000 })).to.equal(5_000);
    });

    it("within the server's range, inclusive", () => {
      expect(resolvedTimeoutMs(request(seconds(1)), limits)).to.equal(1_000);
      expect(resolvedTimeoutMs(request(seconds(30 * 86_400)), limits)).to.equal(30 * 86_400_000);
      expect(resolvedTimeoutMs(request(seconds(90, 500_000_000)), limits)).to.equal(90_500);
      // Sub-millisecond parts round up, never shortening the timeout.
      expect(resolvedTimeoutMs(request(seconds(2, 1)), limits)).to.equal(2_001);
      valid(seconds(1));
      valid(seconds(30 * 86_400));
      invalid(seconds(0, 999_000_000), "timeout", /outside the allowed range of 1 s to 30 days/);
      invalid(seconds(30 * 86_400, 1_000_000), "timeout", /outside the allowed range/);
      invalid(seconds(30 * 86_400 + 1), "timeout");
      expectInvalid(() => resolvedTimeoutMs(request(seconds(60)), { ...limits, minTimeoutMs: 120_000 }), "timeout", /outside the allowed range of 2 min/);
    });

    it("refuses a negative or malformed duration", () => {
      invalid(seconds(-5), "timeout", /positive/);
      invalid(seconds(0, -1), "timeout", /positive/);
      invalid(seconds(5, -1), "timeout", /not a valid duration/);
      invalid(seconds(5, 1_000_000_000), "timeout", /not a valid duration/);
    });
  });

  describe("on_timeout and default_response", () => {
    const formRequest = form({ name: "port", type: FieldType.INTEGER, required: true, minimum: 1, maximum: 65_535 });

    it("APPLY_DEFAULT requires default_response", () => {
      invalid({ onTimeout: TimeoutPolicy.APPLY_DEFAULT }, "default_response", /required with on_timeout TIMEOUT_POLICY_APPLY_DEFAULT/);
      valid({ onTimeout: TimeoutPolicy.APPLY_DEFAULT, defaultResponse: { action: ResponseAction.DECLINE } });
      valid({ onTimeout: TimeoutPolicy.FAIL });
      invalid({ onTimeout: 9 as TimeoutPolicy }, "on_timeout", /unknown value 9/);
    });

    it("a default_response must be a valid answer to the spec", () => {
      valid({ ...formRequest, onTimeout: TimeoutPolicy.APPLY_DEFAULT, defaultResponse: { action: ResponseAction.ACCEPT, value: { case: "form", value: { port: 8080 } } } });
      // Kept for display without APPLY_DEFAULT, but still checked.
      invalid({ ...formRequest, defaultResponse: { action: ResponseAction.ACCEPT, value: { case: "form", value: { port: 0 } } } }, "default_response.value.form.port", /minimum/);
      invalid({ ...formRequest, defaultResponse: { action: ResponseAction.ACCEPT, value: { case: "form", value: {} } } }, "default_response.value.form.port", /required/);
      invalid({ ...formRequest, defaultResponse: {} }, "default_response.action", /required/);
      invalid({ defaultResponse: { action: ResponseAction.ACCEPT, value: { case: "selection", value: { values: ["a"] } } } }, "default_response.value");
      invalid({ ...selection({ options: options("a", "b") }), defaultResponse: { action: ResponseAction.ACCEPT, value: { case: "selection", value: { values: ["c"] } } } }, "default_response.value.selection.values[0]");
    });

    it("a default_response's files respect the server's per-file limit", () => {
      const defaultResponse = { action: ResponseAction.ACCEPT, value: { case: "files" as const, value: { files: [{ name: "a", content: new Uint8Array(1_001) }] } } };
      invalid({ ...files(), defaultResponse }, "default_response.value.files.files[0].content", /over the limit of 1000/, { ...limits, maxFileBytes: 1_000 });
    });
  });

  describe("assignees and approval", () => {
    const people = (n: number) => Array.from({ length: n }, (_, i) => `user:${i}`);

    it("assignees: at most 100, non-empty, at most 200 characters, no repeats", () => {
      valid({ assignees: people(100) });
      invalid({ assignees: people(101) }, "assignees", /101 assignees, over the limit of 100/);
      invalid({ assignees: [...people(3), ""] }, "assignees[3]", /required/);
      invalid({ assignees: ["a", "x".repeat(201)] }, "assignees[1]", /201 characters/);
      invalid({ assignees: ["a", "b", "a"] }, "assignees[2]", /repeats assignees\[0\]/);
    });

    it("approval any, or unset, needs nothing", () => {
      valid({ approval: { rule: { case: "any", value: {} } } });
      valid({ approval: {} });
    });

    it("approval all requires assignees", () => {
      invalid({ approval: { rule: { case: "all", value: {} } } }, "approval.all", /requires assignees/);
      valid({ assignees: ["a"], approval: { rule: { case: "all", value: {} } } });
    });

    it("approval quorum: required at least 1 and at most the assignees", () => {
      invalid({ approval: { rule: { case: "quorum", value: { required: 0 } } } }, "approval.quorum.required", /at least 1/);
      valid({ approval: { rule: { case: "quorum", value: { required: 5, veto: true } } } });
      valid({ assignees: people(3), approval: { rule: { case: "quorum", value: { required: 3 } } } });
      invalid({ assignees: people(3), approval: { rule: { case: "quorum", value: { required: 4 } } } }, "approval.quorum.required", /4 is over the 3 assignees/);
    });
  });

  describe("callback_url", () => {
    const url = (callbackUrl: string, withLimits?: DecisionLimits) => check({ callbackUrl }, withLimits);
    const ok = (callbackUrl: string, withLimits?: DecisionLimits) => expect(() => url(callbackUrl, withLimits)).not.to.throw();
    const bad = (callbackUrl: string, reason?: RegExp, withLimits?: DecisionLimits) => expectInvalid(() => url(callbackUrl, withLimits), "callback_url", reason);

    it("is optional", () => {
      ok("");
      ok("", DEFAULT_DECISION_LIMITS);
    });

    it("says so when the allowlist is empty", () => {
      bad("https://hooks.example.com/x", /not allowed on this server.*allowlist is empty/, DEFAULT_DECISION_LIMITS);
    });

    it("must parse as an absolute URL", () => {
      bad("hooks.example.com/x", /not a valid absolute URL/);
      bad("https://", /not a valid absolute URL/);
      bad("/relative", /not a valid absolute URL/);
    });

    it("https, or http only when the server allows it", () => {
      ok("https://hooks.example.com/decisions");
      bad("http://hooks.example.com/decisions", /must use https$/);
      ok("http://hooks.example.com/decisions", { ...limits, allowHttpCallbacks: true });
      bad("ftp://hooks.example.com/x", /must use https or http/, { ...limits, allowHttpCallbacks: true });
      bad("javascript:alert(1)", /https/);
    });

    it("carries no credentials", () => {
      bad("https://user:secret@hooks.example.com/x", /credentials/);
      bad("https://user@hooks.example.com/x", /credentials/);
    });

    it("host must be on the allowlist: exact names or *.suffix patterns", () => {
      ok("https://HOOKS.Example.com:8443/x?y=1");
      ok("https://hooks.example.com./x");
      ok("https://a.callbacks.example.org/x");
      ok("https://a.b.callbacks.example.org/x");
      bad("https://callbacks.example.org/x", /not on the server's callback allowlist/);
      bad("https://example.com/x", /"example.com" is not on/);
      bad("https://other.example.com/x");
      bad("https://evilcallbacks.example.org/x");
      bad("https://hooks.example.com.evil.net/x");
      bad("https://127.0.0.1/x");
      bad("https://[::1]/x");
    });

    it("allowlist entries are case-insensitive and may be IP literals or unicode names", () => {
      const custom = { ...limits, callbackAllowlist: ["Hooks.Example.COM", "10.0.0.5", "[::1]", "bücher.example", "*.Internal.Example"] };
      ok("https://hooks.example.com/x", custom);
      ok("https://10.0.0.5:8443/x", custom);
      ok("https://[::1]/x", custom);
      ok("https://bücher.example/x", custom);
      ok("https://xn--bcher-kva.example/x", custom);
      ok("https://svc.internal.example/x", custom);
      bad("https://10.0.0.6/x", /allowlist/, custom);
    });
  });

  describe("context", () => {
    it("at most 64 KiB JSON-encoded", () => {
      valid({ context: { run: "deploy-42", nested: { list: [1, "two", null, true] } } });
      // {"k":"..."} is 8 bytes around the string.
      valid({ context: { k: "x".repeat(64 * 1024 - 8) } });
      invalid({ context: { k: "x".repeat(64 * 1024 - 7) } }, "context", /65537 bytes JSON-encoded, over the limit of 65536/);
      // Counted in UTF-8 bytes, not characters.
      invalid({ context: { k: "é".repeat(33_000) } }, "context");
    });
  });

  it("throws InvalidFieldError with a message that starts with the field", () => {
    const error = expectInvalid(() => check({ title: "" }), "title");
    expect(error).to.be.instanceOf(InvalidFieldError);
    expect(error.code).to.equal("invalid_argument");
    expect(error.message).to.equal("title: required");
  });
});
