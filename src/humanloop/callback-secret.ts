/**
 * The callback signing key: 32 random bytes shared by every replica of a deployment, kept in
 * deployment_secrets and made by whichever replica starts first. It is a secret: it is never
 * logged, and no error message carries it.
 */
import type { Pool } from "pg";
import { deploymentSecret } from "../store/deployment-secrets.js";

/** The deployment_secrets name of the key. */
export const CALLBACK_SIGNING_KEY_NAME = "callback-signing-key";

/** Key length in bytes (HMAC-SHA256 gains nothing from a longer one). */
const KEY_BYTES = 32;

/** Returns the deployment's callback signing key, creating it on first use (see deploymentSecret). */
export function callbackSigningKey(pool: Pool): Promise<Buffer> {
  return deploymentSecret(pool, CALLBACK_SIGNING_KEY_NAME, KEY_BYTES);
}
