/**
 * `decisions respond` without --json: asks the operator for an answer, by the decision's kind
 * (confirmation, selection, form, file upload), checking each value before it goes to the server.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Decision } from "../../gen/coordinator/v1/decision_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { FieldType, type FileUploadSpec, type FormField, type FormSpec, type SelectionSpec } from "../../gen/coordinator/v1/decision_spec_pb.js";
import type { DecisionResponseInit } from "../client/human-loop-types.js";
import { InvalidFieldError } from "../humanloop/errors.js";
import { checkFieldValue } from "../humanloop/field-values.js";
import { UsageError } from "./usage-error.js";

/** Asks one question and resolves with the line typed (without the line break). */
export type Ask = (prompt: string) => Promise<string>;

/**
 * A line reader over `input` that never loses lines: answers piped in before their question is
 * asked are buffered (readline's question() would drop them).
 *
 * @throws UsageError from ask() when the input ends before an answer.
 */
export function lineReader(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): { ask: Ask; close(): void } {
  const rl = createInterface({ input, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  return {
    async ask(prompt) {
      output.write(prompt);
      const next = await lines.next();
      if (next.done) throw new UsageError("input ended before an answer was given");
      return next.value;
    },
    close: () => rl.close(),
  };
}

/** Asks for the whole answer to `decision`. */
export async function promptResponse(decision: Decision, ask: Ask, say: (text: string) => void): Promise<DecisionResponseInit> {
  const kind = decision.spec?.kind;
  let response: DecisionResponseInit;
  switch (kind?.case) {
    case "confirmation": {
      const accept = kind.value.confirmLabel || "Confirm";
      const decline = kind.value.declineLabel || "Decline";
      const yes = await choose(ask, say, `${accept} or ${decline}? [a]ccept/[d]ecline: `);
      response = { action: yes ? ResponseAction.ACCEPT : ResponseAction.DECLINE };
      break;
    }
    case "selection":
      response = await promptSelection(kind.value, ask, say);
      break;
    case "form":
      response = (await choose(ask, say, "Fill in the form ([a]ccept) or [d]ecline? "))
        ? { action: ResponseAction.ACCEPT, value: { case: "form", value: await promptForm(kind.value, ask, say) } }
        : { action: ResponseAction.DECLINE };
      break;
    case "fileUpload":
      response = (await choose(ask, say, "Upload files ([a]ccept) or [d]ecline? "))
        ? { action: ResponseAction.ACCEPT, value: { case: "files", value: { files: await promptFiles(kind.value, ask, say) } } }
        : { action: ResponseAction.DECLINE };
      break;
    default:
      throw new UsageError("this decision's kind is not known to this CLI; answer it with --json");
  }
  const comment = (await ask("Comment (optional, Enter to skip): ")).trim();
  return comment ? { ...response, comment } : response;
}

/** Accept (true) or decline (false), asked again until the answer is one of them. */
async function choose(ask: Ask, say: (text: string) => void, prompt: string): Promise<boolean> {
  for (;;) {
    const answer = (await ask(prompt)).trim().toLowerCase();
    if (["a", "accept", "y", "yes"].includes(answer)) return true;
    if (["d", "decline", "n", "no"].includes(answer)) return false;
    say(`  please answer "a" (accept) or "d" (decline)\n`);
  }
}

async function promptSelection(spec: SelectionSpec, ask: Ask, say: (text: string) => void): Promise<DecisionResponseInit> {
  const count = spec.options.length;
  const min = spec.multiple ? spec.minSelected || 1 : 1;
  const max = spec.multiple ? spec.maxSelected || count : 1;
  spec.options.forEach((o, i) => say(`  ${i + 1}. ${o.label || o.value}${o.description ? ` - ${o.description}` : ""}\n`));
  const prompt = spec.multiple ? `Choose ${min} to ${max} by number, comma-separated (or d to decline): ` : `Choose 1-${count} (or d to decline): `;
  for (;;) {
    const answer = (await ask(prompt)).trim();
    if (/^(d|decline)$/i.test(answer)) return { action: ResponseAction.DECLINE };
    const numbers = answer.split(/[\s,]+/).filter(Boolean);
    const picked = numbers.map(Number);
    const problem =
      picked.some((n) => !Number.isInteger(n) || n < 1 || n > count)
        ? `choose numbers from 1 to ${count}`
        : new Set(picked).size !== picked.length
          ? "each option at most once"
          : picked.length < min || picked.length > max
            ? min === max
              ? `choose exactly ${min}`
              : `choose between ${min} and ${max}`
            : undefined;
    if (!problem) return { action: ResponseAction.ACCEPT, value: { case: "selection", value: { values: picked.map((n) => spec.options[n - 1]!.value) } } };
    say(`  ${problem}\n`);
  }
}

async function promptForm(spec: FormSpec, ask: Ask, say: (text: string) => void): Promise<JsonObject> {
  const values: JsonObject = {};
  for (const field of spec.fields) {
    if (field.description) say(`  ${field.description}\n`);
    if (field.type === FieldType.ENUM) field.options.forEach((o, i) => say(`    ${i + 1}. ${o.label || o.value}\n`));
    const hint = [(FieldType[field.type] ?? "?").toLowerCase(), field.required ? "required" : "optional"];
    const defaultValue = field.defaultValue ? toJson(ValueSchema, field.defaultValue) : undefined;
    if (defaultValue !== undefined) hint.push(`default ${JSON.stringify(defaultValue)}`);
    const prompt = `${field.label || field.name} (${hint.join(", ")}): `;
    for (;;) {
      const raw = await ask(prompt);
      if (raw === "") {
        // Enter: the default if there is one; an optional field stays out of the answer.
        if (defaultValue !== undefined) {
          values[field.name] = defaultValue;
          break;
        }
        if (!field.required) break;
        say(`  response.value.form.${field.name}: required\n`);
        continue;
      }
      const value = parseFieldInput(field, raw);
      try {
        checkFieldValue(field, value, `response.value.form.${field.name}`);
        values[field.name] = value;
        break;
      } catch (error) {
        if (!(error instanceof InvalidFieldError)) throw error;
        say(`  ${error.message}\n`);
      }
    }
  }
  return values;
}

/** Typed text to the field's JSON type; text that does not parse stays a string for the check to name. */
function parseFieldInput(field: FormField, raw: string): JsonValue {
  switch (field.type) {
    case FieldType.NUMBER:
    case FieldType.INTEGER: {
      const n = Number(raw.trim());
      return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
    }
    case FieldType.BOOLEAN: {
      const text = raw.trim().toLowerCase();
      if (["y", "yes", "true"].includes(text)) return true;
      if (["n", "no", "false"].includes(text)) return false;
      return raw;
    }
    case FieldType.ENUM: {
      const index = Number(raw.trim());
      return Number.isInteger(index) && index >= 1 && index <= field.options.length ? field.options[index - 1]!.value : raw.trim();
    }
    case FieldType.TEXTAREA:
      // One input line; "\n" typed as two characters is a line break.
      return raw.replace(/\\n/g, "\n");
    default:
      return raw;
  }
}

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

const MEDIA_TYPES: Record<string, string> = {
  ".json": "application/json",
  ".yaml": "application/yaml",
  ".yml": "application/yaml",
  ".toml": "application/toml",
  ".txt": "text/plain",
  ".csv": "text/csv",
  ".xml": "application/xml",
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".zip": "application/zip",
};

async function promptFiles(spec: FileUploadSpec, ask: Ask, say: (text: string) => void) {
  const min = spec.minFiles || 1;
  const max = spec.maxFiles || 1;
  const maxBytes = Number(spec.maxBytes) || DEFAULT_MAX_BYTES;
  if (spec.acceptTypes.length) say(`  accepted: ${spec.acceptTypes.join(", ")}\n`);
  const files: { name: string; contentType: string; content: Uint8Array; sha256: string }[] = [];
  while (files.length < max) {
    const more = files.length >= min;
    const raw = (await ask(`File ${files.length + 1} of ${min === max ? max : `${min}-${max}`} (path${more ? ", Enter when done" : ""}): `)).trim();
    if (raw === "") {
      if (more) break;
      say(`  at least ${min} file${min === 1 ? "" : "s"} needed\n`);
      continue;
    }
    try {
      const info = await stat(raw);
      if (!info.isFile()) throw new Error("not a regular file");
      if (info.size > maxBytes) throw new Error(`${info.size} bytes, over the limit of ${maxBytes}`);
      const content = await readFile(raw);
      const sha256 = createHash("sha256").update(content).digest("hex");
      const name = path.basename(raw);
      files.push({ name, contentType: MEDIA_TYPES[path.extname(name).toLowerCase()] ?? "", content, sha256 });
      say(`  ${name}: ${content.length} bytes, sha256 ${sha256}\n`);
    } catch (error) {
      say(`  ${raw}: ${(error as Error).message}\n`);
    }
  }
  return files;
}
