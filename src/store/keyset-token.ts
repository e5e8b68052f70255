/**
 * Page tokens of keyset-paginated lists: opaque to clients, base64url JSON of the last row's
 * position and a hash of the call's filters. The position continues the listing after that row
 * (no OFFSET, so rows arriving meanwhile never shift a page); the hash lets the server refuse a
 * token replayed with other filters instead of returning a wrong page.
 */
import { createHash } from "node:crypto";

/** How Postgres prints a timestamptz: "2026-11-22 03:59:12.123456+00" (microseconds kept). */
export const POSTGRES_TIMESTAMPTZ = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

/** Makes the token for the page after `position` (strings only: timestamps as Postgres prints them). */
export function encodeKeysetToken(position: readonly string[], filters: unknown): string {
  return Buffer.from(JSON.stringify({ p: position, f: filterHash(filters) })).toString("base64url");
}

/** Why a token was refused, in words for an INVALID_ARGUMENT "page_token". */
export type KeysetTokenProblem = "is not a token this server issued" | "was issued for other filters; start again without a token";

/**
 * Reads a token back.
 *
 * @param shape - one check per position element (e.g. POSTGRES_TIMESTAMPTZ for a timestamp).
 * @returns the position, or the problem with the token.
 */
export function decodeKeysetToken(raw: string, filters: unknown, shape: readonly RegExp[]): string[] | KeysetTokenProblem {
  let token: { p?: unknown; f?: unknown };
  try {
    token = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as typeof token;
  } catch {
    return "is not a token this server issued";
  }
  const position = token?.p;
  if (!Array.isArray(position) || position.length !== shape.length || !position.every((v, i) => typeof v === "string" && shape[i]!.test(v))) {
    return "is not a token this server issued";
  }
  if (token.f !== filterHash(filters)) return "was issued for other filters; start again without a token";
  return position as string[];
}

function filterHash(filters: unknown): string {
  return createHash("sha256").update(JSON.stringify(filters)).digest("base64url").slice(0, 16);
}
