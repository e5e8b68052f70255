/**
 * JSON with object keys sorted at every level: two requests that differ only in key order (a
 * Struct's map order, a client's field order) hash the same, so an idempotent retry is recognised.
 */
import type { JsonValue } from "@bufbuild/protobuf";

/** Serializes `value` with sorted object keys. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key]!)}`).join(",")}}`;
}
