import { createHash } from "node:crypto";
import { create, type JsonObject, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { expect } from "chai";
import { DecisionResponseSchema, ResponseAction, UploadedFileSchema, type DecisionResponse } from "../../gen/coordinator/v1/decision_response_pb.js";
import { DecisionSpecSchema, FieldType, FormFieldSchema } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { checkFieldValue, checkResponse } from "../../src/humanloop/response-validation.js";
import { expectInvalid } from "./expect-field.js";

type SpecInit = MessageInitShape<typeof DecisionSpecSchema>;
type ResponseInit = MessageInitShape<typeof DecisionResponseSchema>;
type FieldInit = MessageInitShape<typeof FormFieldSchema>;

const { ACCEPT, DECLINE } = ResponseAction;

const confirmation = create(DecisionSpecSchema, { kind: { case: "confirmation", value: {} } });

function selectionSpec(init: { values?: string[]; multiple?: boolean; minSelected?: number; maxSelected?: number } = {}) {
  const { values = ["a", "b", "c", "d"], ...rest } = init;
  return create(DecisionSpecSchema, { kind: { case: "selection", value: { options: values.map((value) => ({ value })), ...rest } } });
}

function formSpec(...fields: FieldInit[]) {
  return create(DecisionSpecSchema, { kind: { case: "form", value: { fields } } });
}

function filesSpec(init: Extract<SpecInit["kind"], { case: "fileUpload" }>["value"] = {}) {
  return create(DecisionSpecSchema, { kind: { case: "fileUpload", value: init } });
}

function response(init: ResponseInit): DecisionResponse {
  return create(DecisionResponseSchema, init);
}

function accept(value?: ResponseInit["value"]): DecisionResponse {
  return response({ action: ACCEPT, ...(value ? { value } : {}) });
}

function chosen(...values: string[]) {
  return accept({ case: "selection", value: { values } });
}

function answered(form: JsonObject) {
  return accept({ case: "form", value: form });
}

function uploaded(...files: MessageInitShape<typeof UploadedFileSchema>[]) {
  return accept({ case: "files", value: { files } });
}

function field(init: FieldInit) {
  return create(FormFieldSchema, { name: "f", ...init });
}

const bytes = (n: number) => new Uint8Array(n).fill(7);
const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("response validation", () => {
  describe("action and value presence", () => {
    it("requires a response and an action", () => {
      expectInvalid(() => checkResponse(confirmation, undefined), "response", /required/);
      expectInvalid(() => checkResponse(confirmation, response({})), "response.action", /required/);
      expectInvalid(() => checkResponse(confirmation, response({ action: 7 as ResponseAction })), "response.action", /unknown value 7/);
    });

    it("names fields under the given prefix", () => {
      expectInvalid(() => checkResponse(confirmation, undefined, "default_response"), "default_response");
      expectInvalid(() => checkResponse(confirmation, response({}), "default_response"), "default_response.action");
      expectInvalid(() => checkResponse(formSpec({ name: "port", type: FieldType.INTEGER }), answered({ port: "x" }), "default_response"), "default_response.value.form.port");
    });

    it("accepts a confirmation without a value and refuses one with a value", () => {
      expect(checkResponse(confirmation, accept()).action).to.equal(ACCEPT);
      expectInvalid(() => checkResponse(confirmation, chosen("a")), "response.value", /without a value/);
    });

    it("accepts a decline of every kind without a value and refuses one with a value", () => {
      for (const spec of [confirmation, selectionSpec(), formSpec({ name: "x", type: FieldType.TEXT }), filesSpec()]) {
        expect(checkResponse(spec, response({ action: DECLINE, comment: "no" })).comment).to.equal("no");
      }
      expectInvalid(() => checkResponse(selectionSpec(), response({ action: DECLINE, value: { case: "selection", value: { values: ["a"] } } })), "response.value", /absent when declining/);
      expectInvalid(() => checkResponse(confirmation, response({ action: DECLINE, value: { case: "form", value: {} } })), "response.value");
    });

    it("requires a value of the spec's kind when accepting", () => {
      expectInvalid(() => checkResponse(selectionSpec(), accept()), "response.value", /required.*value\.selection/);
      expectInvalid(() => checkResponse(formSpec({ name: "x", type: FieldType.TEXT }), accept()), "response.value", /value\.form/);
      expectInvalid(() => checkResponse(filesSpec(), accept()), "response.value", /file_upload.*value\.files/);
      expectInvalid(() => checkResponse(selectionSpec(), answered({})), "response.value", /expected selection.*got form/);
      expectInvalid(() => checkResponse(formSpec({ name: "x", type: FieldType.TEXT }), chosen("a")), "response.value", /expected form/);
      expectInvalid(() => checkResponse(filesSpec(), chosen("a")), "response.value", /expected files/);
    });

    it("limits the comment to 4,096 characters (code points)", () => {
      expect(() => checkResponse(confirmation, response({ action: DECLINE, comment: "x".repeat(4_096) }))).not.to.throw();
      expect(() => checkResponse(confirmation, response({ action: DECLINE, comment: "😀".repeat(4_096) }))).not.to.throw();
      expectInvalid(() => checkResponse(confirmation, response({ action: ACCEPT, comment: "x".repeat(4_097) })), "response.comment", /4097 characters/);
    });

    it("returns a copy, leaving the input untouched", () => {
      const input = chosen("a");
      const output = checkResponse(selectionSpec(), input);
      expect(output).not.to.equal(input);
      expect(output.value).to.deep.equal(input.value);
    });
  });

  describe("selection", () => {
    it("accepts exactly one option without multiple", () => {
      expect(() => checkResponse(selectionSpec(), chosen("b"))).not.to.throw();
      expectInvalid(() => checkResponse(selectionSpec(), chosen()), "response.value.selection.values", /exactly one.*got 0/);
      expectInvalid(() => checkResponse(selectionSpec(), chosen("a", "b")), "response.value.selection.values", /exactly one.*got 2/);
    });

    it("names a value that is not an option, or a repeat, by index", () => {
      expectInvalid(() => checkResponse(selectionSpec({ multiple: true }), chosen("a", "b", "zz")), "response.value.selection.values[2]", /"zz" is not one of the options/);
      expectInvalid(() => checkResponse(selectionSpec({ multiple: true }), chosen("a", "a")), "response.value.selection.values[1]", /repeats values\[0\]/);
      // Case matters: values are exact.
      expectInvalid(() => checkResponse(selectionSpec(), chosen("A")), "response.value.selection.values[0]");
    });

    it("with multiple and no bounds: 1 to all options", () => {
      const spec = selectionSpec({ multiple: true });
      expect(() => checkResponse(spec, chosen("a"))).not.to.throw();
      expect(() => checkResponse(spec, chosen("a", "b", "c", "d"))).not.to.throw();
      expectInvalid(() => checkResponse(spec, chosen()), "response.value.selection.values", /at least 1/);
    });

    it("with multiple: between min_selected and max_selected, inclusive", () => {
      const spec = selectionSpec({ multiple: true, minSelected: 2, maxSelected: 3 });
      expect(() => checkResponse(spec, chosen("a", "b"))).not.to.throw();
      expect(() => checkResponse(spec, chosen("a", "b", "c"))).not.to.throw();
      expectInvalid(() => checkResponse(spec, chosen("a")), "response.value.selection.values", /1 chosen, at least 2/);
      expectInvalid(() => checkResponse(spec, chosen("a", "b", "c", "d")), "response.value.selection.values", /4 chosen, at most 3/);
    });
  });

  describe("form", () => {
    it("accepts a valid answer of every field type", () => {
      const spec = formSpec(
        { name: "text", type: FieldType.TEXT },
        { name: "area", type: FieldType.TEXTAREA },
        { name: "num", type: FieldType.NUMBER },
        { name: "int", type: FieldType.INTEGER },
        { name: "flag", type: FieldType.BOOLEAN },
        { name: "mail", type: FieldType.EMAIL },
        { name: "uri", type: FieldType.URI },
        { name: "day", type: FieldType.DATE },
        { name: "at", type: FieldType.DATE_TIME },
        { name: "env", type: FieldType.ENUM, options: [{ value: "prod" }, { value: "staging" }] },
      );
      const form = {
        text: "hello",
        area: "line 1\nline 2",
        num: -1.5,
        int: 42,
        flag: false,
        mail: "ops@example.com",
        uri: "https://example.com/x",
        day: "2024-02-29",
        at: "2025-01-31T17:00:00Z",
        env: "prod",
      };
      const checked = checkResponse(spec, answered(form));
      expect(checked.value).to.deep.equal({ case: "form", value: form });
    });

    it("names an unknown key", () => {
      const spec = formSpec({ name: "color", type: FieldType.TEXT });
      expectInvalid(() => checkResponse(spec, answered({ color: "red", colour: "red" })), "response.value.form.colour", /^unknown field$/);
    });

    it("requires required fields, and a required BOOLEAN may be false", () => {
      const spec = formSpec({ name: "ok", type: FieldType.BOOLEAN, required: true }, { name: "note", type: FieldType.TEXT });
      expect(() => checkResponse(spec, answered({ ok: false }))).not.to.throw();
      expectInvalid(() => checkResponse(spec, answered({ note: "x" })), "response.value.form.ok", /required/);
    });

    it("leaves optional fields absent", () => {
      const spec = formSpec({ name: "note", type: FieldType.TEXT }, { name: "n", type: FieldType.NUMBER });
      expect(checkResponse(spec, answered({})).value).to.deep.equal({ case: "form", value: {} });
    });

    it("does not mistake inherited names for answers", () => {
      const spec = formSpec({ name: "constructor", type: FieldType.TEXT, required: true }, { name: "toString", type: FieldType.TEXT });
      expectInvalid(() => checkResponse(spec, answered({})), "response.value.form.constructor", /required/);
      expect(() => checkResponse(spec, answered({ constructor: "x" }))).not.to.throw();
    });

    it("refuses null and values of the wrong JSON type", () => {
      const spec = formSpec(
        { name: "text", type: FieldType.TEXT },
        { name: "num", type: FieldType.NUMBER },
        { name: "flag", type: FieldType.BOOLEAN },
        { name: "day", type: FieldType.DATE },
      );
      expectInvalid(() => checkResponse(spec, answered({ text: null })), "response.value.form.text", /expected a string, got null/);
      expectInvalid(() => checkResponse(spec, answered({ text: 5 })), "response.value.form.text", /got a number/);
      expectInvalid(() => checkResponse(spec, answered({ num: "5" })), "response.value.form.num", /expected a number, got a string/);
      expectInvalid(() => checkResponse(spec, answered({ flag: "true" })), "response.value.form.flag", /true or false/);
      expectInvalid(() => checkResponse(spec, answered({ day: ["2024-01-01"] })), "response.value.form.day", /got an array/);
      expectInvalid(() => checkResponse(spec, answered({ text: { a: 1 } })), "response.value.form.text", /got an object/);
    });

    it("checks the first bad field in spec order after unknown keys", () => {
      const spec = formSpec({ name: "a", type: FieldType.TEXT }, { name: "b", type: FieldType.TEXT });
      expectInvalid(() => checkResponse(spec, answered({ b: 1, a: 1 })), "response.value.form.a");
      expectInvalid(() => checkResponse(spec, answered({ b: 1, zz: 1 })), "response.value.form.zz");
    });
  });

  describe("form field values (checkFieldValue)", () => {
    const ok = (init: FieldInit, value: JsonValue) => expect(() => checkFieldValue(field(init), value, "p")).not.to.throw();
    const bad = (init: FieldInit, value: JsonValue, reason?: RegExp) => expectInvalid(() => checkFieldValue(field(init), value, "p"), "p", reason);

    it("TEXT: one line", () => {
      ok({ type: FieldType.TEXT }, "a line, with ünïcode");
      ok({ type: FieldType.TEXT }, "");
      for (const lineBreak of ["\n", "\r", "\u2028", "\u2029", "\u0085"]) bad({ type: FieldType.TEXT }, `a${lineBreak}b`, /single line/);
      bad({ type: FieldType.TEXT }, "a\u0000b", /NUL/);
    });

    it("TEXT and TEXTAREA: an empty string does not answer a required field", () => {
      bad({ type: FieldType.TEXT, required: true }, "", /required/);
      bad({ type: FieldType.TEXTAREA, required: true }, "", /required/);
      ok({ type: FieldType.TEXTAREA, required: true }, " ");
    });

    it("TEXTAREA: line breaks allowed", () => {
      ok({ type: FieldType.TEXTAREA }, "a\r\nb\nc");
    });

    it("lengths count code points, bounds inclusive", () => {
      const rules = { type: FieldType.TEXT, minLength: 2, maxLength: 3 };
      ok(rules, "ab");
      ok(rules, "abc");
      ok(rules, "😀😀😀"); // six UTF-16 units, three characters
      bad(rules, "a", /1 characters, under the minimum of 2/);
      bad(rules, "abcd", /4 characters, over the limit of 3/);
      bad(rules, "😀😀😀😀", /4 characters/);
      bad({ type: FieldType.EMAIL, maxLength: 5 }, "a@b.cd", /over the limit of 5/);
      bad({ type: FieldType.URI, minLength: 30 }, "https://example.com", /under the minimum/);
    });

    it("pattern matches the whole value", () => {
      ok({ type: FieldType.TEXT, pattern: "[a-z]+" }, "abc");
      bad({ type: FieldType.TEXT, pattern: "[a-z]+" }, "abc1", /does not match the pattern/);
      bad({ type: FieldType.TEXT, pattern: "b" }, "abc", /does not match/);
      // The alternation stays inside the anchors: "a|b" does not match "ab".
      bad({ type: FieldType.TEXT, pattern: "a|b" }, "ab");
      ok({ type: FieldType.TEXT, pattern: "a|b" }, "b");
      // Unicode mode: \p{L} and astral characters work.
      ok({ type: FieldType.TEXT, pattern: "\\p{L}+" }, "héllo");
      ok({ type: FieldType.TEXT, pattern: "." }, "😀");
      ok({ type: FieldType.EMAIL, pattern: ".*@example\\.com" }, "ops@example.com");
      bad({ type: FieldType.EMAIL, pattern: ".*@example\\.com" }, "ops@example.org");
    });

    it("NUMBER: finite, bounds inclusive", () => {
      ok({ type: FieldType.NUMBER }, 0.1);
      ok({ type: FieldType.NUMBER, minimum: 1, maximum: 2 }, 1);
      ok({ type: FieldType.NUMBER, minimum: 1, maximum: 2 }, 2);
      bad({ type: FieldType.NUMBER, minimum: 1, maximum: 2 }, 0.999, /under the minimum of 1/);
      bad({ type: FieldType.NUMBER, minimum: 1, maximum: 2 }, 2.001, /over the maximum of 2/);
      bad({ type: FieldType.NUMBER }, Number.POSITIVE_INFINITY, /finite/);
      bad({ type: FieldType.NUMBER }, Number.NaN, /finite/);
    });

    it("INTEGER: whole, within ±2^53", () => {
      ok({ type: FieldType.INTEGER }, -7);
      ok({ type: FieldType.INTEGER }, 2 ** 53);
      ok({ type: FieldType.INTEGER }, -(2 ** 53));
      ok({ type: FieldType.INTEGER }, 3.0);
      bad({ type: FieldType.INTEGER }, 1.5, /whole number/);
      bad({ type: FieldType.INTEGER }, 2 ** 53 + 2, /±2\^53/);
      bad({ type: FieldType.INTEGER }, -(2 ** 54), /±2\^53/);
      bad({ type: FieldType.INTEGER, minimum: 1, maximum: 65_535 }, 0, /minimum/);
      ok({ type: FieldType.INTEGER, minimum: 1, maximum: 65_535 }, 65_535);
      bad({ type: FieldType.INTEGER }, "3", /expected a number/);
    });

    it("BOOLEAN: true or false", () => {
      ok({ type: FieldType.BOOLEAN }, true);
      bad({ type: FieldType.BOOLEAN }, 1, /true or false/);
      bad({ type: FieldType.BOOLEAN }, null);
    });

    it("EMAIL: an addr-spec", () => {
      for (const address of ["ops@example.com", "first.last+tag@sub.example.co.uk", "ops@localhost", "o'neil@example.com", "jörg@bücher.de"]) {
        ok({ type: FieldType.EMAIL }, address);
      }
      for (const address of ["", "ops", "@example.com", "ops@", "ops @example.com", "ops@exa mple.com", "a@b@c", ".ops@example.com", "o..ps@example.com", "ops@-example.com", "ops@example..com", "ops@example.com.", `${"a".repeat(65)}@example.com`]) {
        bad({ type: FieldType.EMAIL }, address, /email address/);
      }
    });

    it("URI: absolute, with a scheme", () => {
      for (const uri of ["https://example.com/x", "http://localhost:8080/a?b=c#d", "mailto:ops@example.com", "urn:isbn:0451450523", "s3://bucket/key"]) {
        ok({ type: FieldType.URI }, uri);
      }
      for (const uri of ["", "example.com/x", "/relative/path", "//example.com", "https://exa mple.com", "https://example.com/a b", " https://example.com", "https://example.com\n", "1http://x", "https://"]) {
        bad({ type: FieldType.URI }, uri, /absolute URI/);
      }
    });

    it("DATE: YYYY-MM-DD, a real calendar date", () => {
      for (const date of ["2024-02-29", "2000-02-29", "1999-12-31", "2025-01-01"]) ok({ type: FieldType.DATE }, date);
      for (const date of ["2023-02-29", "1900-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00", "2024-1-01", "24-01-01", "2024-01-01T00:00:00Z", "2024/01/01", " 2024-01-01"]) {
        bad({ type: FieldType.DATE }, date, /calendar date/);
      }
      bad({ type: FieldType.DATE }, 20240101, /expected a string/);
    });

    it("DATE_TIME: RFC 3339 with an offset, a real date and time", () => {
      for (const value of ["2025-01-31T17:00:00Z", "2025-01-31t17:00:00z", "2025-01-31T17:00:00.123456+05:30", "2025-01-31T00:00:00-08:00", "2016-12-31T23:59:60Z", "2017-01-01T00:59:60+01:00"]) {
        ok({ type: FieldType.DATE_TIME }, value);
      }
      for (const value of [
        "2025-01-31T17:00:00", // no offset
        "2025-01-31 17:00:00Z",
        "2025-01-31T24:00:00Z",
        "2025-01-31T17:60:00Z",
        "2025-02-30T10:00:00Z",
        "2025-01-31T17:00:00+24:00",
        "2025-01-31T17:00:00+0530",
        "2025-01-31T17:00Z",
        "2025-01-31T12:00:60Z", // a leap second only at 23:59 UTC
        "2025-01-31",
      ]) {
        bad({ type: FieldType.DATE_TIME }, value, /RFC 3339/);
      }
    });

    it("ENUM: one of the options", () => {
      const rules = { type: FieldType.ENUM, options: [{ value: "prod" }, { value: "staging", label: "Staging" }] };
      ok(rules, "staging");
      bad(rules, "Staging", /not one of the options/);
      bad(rules, "", /not one of the options/);
      bad(rules, 1, /expected a string/);
    });

    it("refuses a field type the server does not know", () => {
      bad({ type: FieldType.UNSPECIFIED }, "x", /not supported/);
    });
  });

  describe("files", () => {
    it("accepts files and returns them with the server's size_bytes and sha256", () => {
      const content = new TextEncoder().encode("replicas: 3\n");
      const input = uploaded({ name: "config.yaml", contentType: "application/yaml", content, sizeBytes: 999n });
      const checked = checkResponse(filesSpec(), input);
      expect(checked.value.case).to.equal("files");
      const files = checked.value.case === "files" ? checked.value.value.files : [];
      expect(files).to.have.length(1);
      expect(files[0]!.sha256).to.equal(sha(content));
      expect(files[0]!.sizeBytes).to.equal(BigInt(content.length));
      expect(files[0]!.name).to.equal("config.yaml");
      expect(files[0]!.content).to.deep.equal(content);
      // The caller's message is not rewritten.
      const original = input.value.case === "files" ? input.value.value.files[0]! : undefined;
      expect(original!.sha256).to.equal("");
      expect(original!.sizeBytes).to.equal(999n);
    });

    it("accepts a matching sha256 and names a wrong or upper-case one", () => {
      const content = bytes(10);
      expect(() => checkResponse(filesSpec(), uploaded({ name: "a", content, sha256: sha(content) }))).not.to.throw();
      expectInvalid(() => checkResponse(filesSpec({ maxFiles: 2 }), uploaded({ name: "a", content }, { name: "b", content, sha256: sha(bytes(11)) })), "response.value.files.files[1].sha256", /does not match/);
      expectInvalid(() => checkResponse(filesSpec(), uploaded({ name: "a", content, sha256: sha(content).toUpperCase() })), "response.value.files.files[0].sha256", /lower-case/);
    });

    it("counts files between min_files and max_files (0 means 1)", () => {
      expectInvalid(() => checkResponse(filesSpec(), uploaded()), "response.value.files.files", /0 files, at least 1/);
      expectInvalid(() => checkResponse(filesSpec(), uploaded({ name: "a" }, { name: "b" })), "response.value.files.files", /2 files, at most 1/);
      const spec = filesSpec({ minFiles: 2, maxFiles: 3 });
      expectInvalid(() => checkResponse(spec, uploaded({ name: "a" })), "response.value.files.files", /at least 2/);
      expect(() => checkResponse(spec, uploaded({ name: "a" }, { name: "b" }, { name: "c" }))).not.to.throw();
      expectInvalid(() => checkResponse(spec, uploaded({ name: "a" }, { name: "b" }, { name: "c" }, { name: "d" })), "response.value.files.files", /at most 3/);
    });

    it("requires a file name of 1 to 255 characters without directories", () => {
      const spec = filesSpec({ maxFiles: 2 });
      expect(() => checkResponse(spec, uploaded({ name: "x".repeat(255) }))).not.to.throw();
      expectInvalid(() => checkResponse(spec, uploaded({ name: "ok" }, { name: "" })), "response.value.files.files[1].name", /required/);
      expectInvalid(() => checkResponse(spec, uploaded({ name: "x".repeat(256) })), "response.value.files.files[0].name", /256 characters/);
      expectInvalid(() => checkResponse(spec, uploaded({ name: "etc/passwd" })), "response.value.files.files[0].name", /"\/"/);
      expectInvalid(() => checkResponse(spec, uploaded({ name: "..\\boot.ini" })), "response.value.files.files[0].name");
      expectInvalid(() => checkResponse(spec, uploaded({ name: ".." })), "response.value.files.files[0].name");
      expectInvalid(() => checkResponse(spec, uploaded({ name: "a\u0001b" })), "response.value.files.files[0].name", /control/);
    });

    it("limits each file to max_bytes", () => {
      const spec = filesSpec({ maxBytes: 100n, maxFiles: 2 });
      expect(() => checkResponse(spec, uploaded({ name: "a", content: bytes(100) }))).not.to.throw();
      expectInvalid(() => checkResponse(spec, uploaded({ name: "a", content: bytes(1) }, { name: "b", content: bytes(101) })), "response.value.files.files[1].content", /101 bytes, over the limit of 100/);
    });

    it("with max_bytes 0: 10 MiB, lowered to the server's cap", () => {
      expect(() => checkResponse(filesSpec(), uploaded({ name: "a", content: bytes(10 * 1024 * 1024) }))).not.to.throw();
      expectInvalid(() => checkResponse(filesSpec(), uploaded({ name: "a", content: bytes(10 * 1024 * 1024 + 1) })), "response.value.files.files[0].content");
      expectInvalid(() => checkResponse(filesSpec(), uploaded({ name: "a", content: bytes(1_001) }), "response", 1_000), "response.value.files.files[0].content", /over the limit of 1000/);
    });

    it("matches accept_types by content_type, wildcard or name extension", () => {
      const spec = filesSpec({ acceptTypes: ["application/json", "image/*", ".yaml", ".tar.gz"], maxFiles: 10 });
      const accepted = [
        { name: "a.bin", contentType: "application/json" },
        { name: "a.bin", contentType: "Application/JSON; charset=utf-8" },
        { name: "photo", contentType: "image/png" },
        { name: "CONFIG.YAML" },
        { name: "config.yaml", contentType: "text/plain" },
        { name: "backup.TAR.GZ", contentType: "application/octet-stream" },
      ];
      expect(() => checkResponse(spec, uploaded(...accepted))).not.to.throw();
      expectInvalid(() => checkResponse(spec, uploaded({ name: "a.yml" })), "response.value.files.files[0]", /accept_types/);
      expectInvalid(() => checkResponse(spec, uploaded({ name: "a.json", contentType: "text/json" })), "response.value.files.files[0]", /accept_types/);
      expectInvalid(() => checkResponse(spec, uploaded({ name: "yaml" })), "response.value.files.files[0]");
      expectInvalid(() => checkResponse(spec, uploaded({ name: "a.gz" })), "response.value.files.files[0]");
      expectInvalid(() => checkResponse(spec, uploaded({ name: "a", contentType: "imagex/png" })), "response.value.files.files[0]");
    });

    it("accepts any type without accept_types, or with */*", () => {
      expect(() => checkResponse(filesSpec(), uploaded({ name: "whatever.exe" }))).not.to.throw();
      expect(() => checkResponse(filesSpec({ acceptTypes: ["*/*"] }), uploaded({ name: "x" }))).not.to.throw();
    });

    it("refuses a content_type that is no media type", () => {
      expectInvalid(() => checkResponse(filesSpec(), uploaded({ name: "a", contentType: "yaml" })), "response.value.files.files[0].content_type", /media type/);
      expectInvalid(() => checkResponse(filesSpec(), uploaded({ name: "a", contentType: "image/*" })), "response.value.files.files[0].content_type");
    });
  });
});
