/**
 * Secrets a deployment makes for itself, shared by every replica through deployment_secrets
 * (migration 0003): the callback signing key, and the privacy hash key when MCPC_HASH_KEY is not
 * set. They are never logged, and no error message carries them.
 */
import { randomBytes } from "node:crypto";
import type { Pool } from "pg";

/**
 * The deployment secret `name`, made of `bytes` random bytes by whichever replica asks first.
 * Several replicas starting together get the same value.
 */
export async function deploymentSecret(pool: Pool, name: string, bytes = 32): Promise<Buffer> {
  // Why insert-if-absent, then read in a second statement: replicas starting together race here;
  // the primary key lets exactly one insert win (the others wait for it to commit, then skip),
  // and the SELECT, with a new snapshot, reads the winner's value whichever replica that was.
  await pool.query("INSERT INTO deployment_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [name, randomBytes(bytes)]);
  const { rows } = await pool.query<{ value: Buffer }>("SELECT value FROM deployment_secrets WHERE name = $1", [name]);
  // Only a concurrent DELETE by hand gets here.
  if (!rows[0]) throw new Error(`deployment secret "${name}" vanished right after it was stored; restart to make a new one`);
  return rows[0].value;
}
