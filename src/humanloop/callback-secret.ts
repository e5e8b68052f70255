/**
 * The callback signing key: 32 random bytes shared by every replica of a deployment, kept in
 * deployment_secrets and made by whichever replica starts first. It is a secret: it is never
 * logged, and no error message carries it.
 */
import { randomBytes } from "node:crypto";
import type { Pool } from "pg";
import { findSecret, insertSecretIfAbsent } from "./callback-queries.js";

/** The deployment_secrets name of the key. */
export const CALLBACK_SIGNING_KEY_NAME = "callback-signing-key";

/** Key length in bytes (HMAC-SHA256 gains nothing from a longer one). */
const KEY_BYTES = 32;

/**
 * Returns the deployment's callback signing key, creating it on first use. Several replicas
 * starting together get the same key: each offers a random candidate, the primary key keeps the
 * first one committed, and every replica then reads that one.
 */
export async function callbackSigningKey(pool: Pool): Promise<Buffer> {
  await insertSecretIfAbsent(pool, CALLBACK_SIGNING_KEY_NAME, randomBytes(KEY_BYTES));
  const key = await findSecret(pool, CALLBACK_SIGNING_KEY_NAME);
  // Only a concurrent DELETE by hand gets here.
  if (!key) throw new Error(`deployment secret "${CALLBACK_SIGNING_KEY_NAME}" vanished right after it was stored; restart to make a new one`);
  return key;
}
