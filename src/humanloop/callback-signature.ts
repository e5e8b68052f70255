/**
 * How callbacks are signed, for the coordinator (sign) and for receivers (verify). The scheme is
 * the one Stripe and Slack use:
 *
 * - `x-mcpc-timestamp: <unix seconds>` when the request was signed;
 * - `x-mcpc-signature: v1=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`, the body being the exact
 *   bytes of the request body. Receivers accept any `v1=` entry of a comma-separated list (room to
 *   rotate keys later) and refuse timestamps outside a tolerance window (replays);
 * - `x-mcpc-delivery: <decision_id>:<revision>`, the same on every retry of one callback, so
 *   receivers can drop duplicates (delivery is at least once).
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** Header names (lower case, as Node's http module presents them). */
export const TIMESTAMP_HEADER = "x-mcpc-timestamp";
export const SIGNATURE_HEADER = "x-mcpc-signature";
export const DELIVERY_HEADER = "x-mcpc-delivery";

/** The only scheme so far. */
const SCHEME = "v1";

/** How far a receiver lets a timestamp be from its clock by default (seconds). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The signature of `body` at `timestamp` (unix seconds): lower-case hex HMAC-SHA256. */
export function sign(key: Uint8Array, body: string | Uint8Array, timestamp: number): string {
  return createHmac("sha256", key).update(`${timestamp}.`).update(body).digest("hex");
}

/**
 * The headers a callback carries (besides content-type).
 *
 * @param delivery - "<decision_id>:<revision>".
 * @param now - the signing time (ms since the epoch); default now.
 */
export function signedHeaders(key: Uint8Array, body: string, delivery: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: `${SCHEME}=${sign(key, body, timestamp)}`,
    [DELIVERY_HEADER]: delivery,
  };
}

/** Why verify() refused a request, or "ok". */
export type VerifyResult = "ok" | "missing_headers" | "bad_timestamp" | "outside_tolerance" | "bad_signature";

/**
 * Checks a received callback: the timestamp is within `toleranceSeconds` of `now`, and one `v1=`
 * signature matches the body (compared in constant time).
 *
 * @param body - the raw request body, exactly as received (not re-serialized JSON).
 * @param headers - the request headers (e.g. Node's `req.headers`, or a fetch `Headers`).
 */
export function verify(
  key: Uint8Array,
  body: string | Uint8Array,
  headers: Record<string, string | string[] | undefined> | Headers,
  options: { toleranceSeconds?: number; now?: number } = {},
): VerifyResult {
  const timestampText = header(headers, TIMESTAMP_HEADER);
  const signatures = header(headers, SIGNATURE_HEADER);
  if (timestampText === undefined || signatures === undefined) return "missing_headers";
  if (!/^\d{1,12}$/.test(timestampText)) return "bad_timestamp";
  const timestamp = Number(timestampText);
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return "outside_tolerance";
  const expected = Buffer.from(sign(key, body, timestamp), "hex");
  for (const entry of signatures.split(",")) {
    const [scheme, value] = entry.trim().split("=", 2);
    if (scheme !== SCHEME || value === undefined || !/^[0-9a-f]{64}$/i.test(value)) continue;
    if (timingSafeEqual(expected, Buffer.from(value, "hex"))) return "ok";
  }
  return "bad_signature";
}

function header(headers: Record<string, string | string[] | undefined> | Headers, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}
