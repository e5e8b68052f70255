/**
 * Typed values of command-line flags; each refusal is a UsageError naming the flag.
 */
import { parseDuration } from "../config/duration.js";
import { UsageError } from "./usage-error.js";

/** A whole number above 0 (`--limit 25`). */
export function positiveInteger(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a whole number above 0; got "${raw}"`);
  return n;
}

/**
 * A point in time typed either as a duration from now (`24h`, `90d`) or as an ISO 8601 time
 * (`2027-01-01T00:00:00Z`, `2026-11-22`).
 *
 * @param direction - "ago" for a past bound (`--since 24h`), "ahead" for a future one (`--expires 90d`).
 */
export function pointInTime(flag: string, raw: string, direction: "ago" | "ahead", now = Date.now()): Date {
  const text = raw.trim();
  const example = direction === "ago" ? "24h, 30m, 7d" : "90d, 12h";
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(text)) {
    let ms: number;
    try {
      ms = parseDuration(text, flag);
    } catch {
      throw new UsageError(`${flag} must be a duration above zero (${example}); got "${raw}"`);
    }
    return new Date(direction === "ago" ? now - ms : now + ms);
  }
  // A full date is required: a bare "3000" or "90" would otherwise parse as a year.
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) {
    throw new UsageError(`${flag} must be a duration (${example}) or an ISO 8601 time (2027-01-01T00:00:00Z); got "${raw}"`);
  }
  return at;
}
