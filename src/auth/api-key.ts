/**
 * API key format, generation and verification. Pure functions: no I/O.
 *
 * A key is `mcpc_<id>_<secret>`: `id` (16 hex chars) is public and finds the row; `secret`
 * (32 random bytes, base64url) is shown once and only its SHA-256 is stored.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** The roles a key can have: one per key (see permissions.ts for what each may call). */
export const ROLES = ["mcp", "workflow", "operator", "admin"] as const;
/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

const PREFIX = "mcpc";
const KEY_PATTERN = /^mcpc_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A freshly minted key: `token` is what the client sends; only `id` and `secretSha256` are stored. */
export interface MintedKey {
  id: string;
  token: string;
  secretSha256: Buffer;
}

/** Creates a new random key. */
export function mintKey(): MintedKey {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, token: `${PREFIX}_${id}_${secret}`, secretSha256: sha256(secret) };
}

/**
 * Splits a presented token into id and secret.
 *
 * @returns undefined when the token is not shaped like a key (so no database lookup is made).
 */
export function parseKey(token: string): { id: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

/**
 * Checks a presented secret against the stored hash in constant time, so response timing does
 * not reveal how much of a guessed secret was right.
 */
export function secretMatches(secret: string, storedSha256: Buffer): boolean {
  const presented = sha256(secret);
  return presented.length === storedSha256.length && timingSafeEqual(presented, storedSha256);
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Whether `value` names a role. */
export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
