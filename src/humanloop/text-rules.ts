/**
 * Small checks shared by the spec and response validators: lengths in characters, ids, and a
 * readable name for a JSON value's type. Every failure is an InvalidFieldError naming the path.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { InvalidFieldError } from "./errors.js";

/**
 * Length of a string in characters, meaning Unicode code points (what the contract says for form
 * fields, and what a person counts: an emoji is one character, not two UTF-16 units).
 */
export function codePointLength(value: string): number {
  let count = 0;
  // Iterating a string walks code points; cheaper than spreading it into an array.
  for (const _ of value) count++;
  return count;
}

/** Where a length rule comes from: the bounds of one string field. */
export interface TextBounds {
  /** Fewest characters; 1 means required. Default 0. */
  min?: number;
  /** Most characters. */
  max: number;
}

/**
 * Checks a free-text field's length in characters, and that it holds no NUL (Postgres text and
 * jsonb cannot store it, so letting one through would turn a bad request into a server error).
 */
export function checkText(path: string, value: string, bounds: TextBounds): void {
  const min = bounds.min ?? 0;
  if (value.length === 0) {
    if (min > 0) throw new InvalidFieldError(path, "required");
    return;
  }
  const length = codePointLength(value);
  if (length > bounds.max) throw new InvalidFieldError(path, `${length} characters, over the limit of ${bounds.max}`);
  if (length < min) throw new InvalidFieldError(path, `${length} characters, under the minimum of ${min}`);
  if (value.includes("\u0000")) throw new InvalidFieldError(path, "contains a NUL character");
}

/**
 * Checks an identifier (request_key, workflow_id, an assignee): required, at most `max`
 * characters, no control characters (they only cause grief in logs, URLs and audit rows).
 */
export function checkId(path: string, value: string, max: number): void {
  checkText(path, value, { min: 1, max });
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) throw new InvalidFieldError(path, "contains control characters");
}

/** "a string", "an object", "null", ...: the JSON type of a value, for messages. */
export function describeJson(value: JsonValue | undefined): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    default:
      return "an object";
  }
}

/** Quotes a value for a message, cut short so a huge value does not flood the error. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 61)}...` : value);
}
