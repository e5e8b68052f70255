/**
 * SQL of the secrets the coordinator makes for itself (coordinator_secrets).
 */
import { randomBytes } from "node:crypto";
import type { Pool } from "pg";

/** The row holding the HMAC key used when MCPC_HASH_KEY is not set. */
const HASH_KEY_NAME = "privacy_hash_key";

/**
 * The hash key stored in the database, made (32 random bytes) by the first caller that finds none.
 * Every replica on the database gets the same key.
 */
export async function loadOrCreateHashKey(pool: Pool): Promise<Buffer> {
  // Why insert-if-absent and then read, in two statements: replicas starting together race here;
  // ON CONFLICT DO NOTHING lets exactly one insert win, and the SELECT (a new snapshot) then sees
  // the winner's key whichever replica that was.
  await pool.query("INSERT INTO coordinator_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [HASH_KEY_NAME, randomBytes(32)]);
  // Why by primary key: one row, read once per start.
  const { rows } = await pool.query<{ value: Buffer }>("SELECT value FROM coordinator_secrets WHERE name = $1", [HASH_KEY_NAME]);
  return rows[0]!.value;
}
