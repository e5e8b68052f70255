/**
 * First start: make sure an admin key exists, so the quick start works without a manual step.
 */
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Pool } from "pg";
import { countUsableAdminKeys } from "./key-queries.js";
import { createKey } from "./keys.js";

/** The file (under the data directory) that holds the first-start admin key. */
export const ADMIN_KEY_FILE = "admin.key";

/** What {@link ensureAdminKey} did. */
export type BootstrapResult = { created: false } | { created: true; token: string; keyId: string; file: string };

/**
 * Creates an admin key when no usable one (not revoked, not expired) exists, and saves it to
 * `<dataDir>/admin.key` with mode 0600. The caller shows the token once; it is never logged.
 *
 * Safe with several replicas starting at once: a transaction-scoped advisory lock makes the
 * check-then-create atomic, so exactly one key is made.
 */
export async function ensureAdminKey(pool: Pool, dataDir: string): Promise<BootstrapResult> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // Serialises concurrent first starts; released at COMMIT/ROLLBACK.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('mcp-coordinator:admin-key-bootstrap'))");
    if ((await countUsableAdminKeys(client)) > 0) {
      await client.query("COMMIT");
      return { created: false };
    }
    const { key, token } = await createKey(client, { role: "admin", name: "first-start admin key" });
    const file = path.resolve(dataDir, ADMIN_KEY_FILE);
    // Written before COMMIT: if the file cannot be saved, no key exists that nobody can read.
    await writeSecretFile(file, `${token}\n`);
    await client.query("COMMIT");
    return { created: true, token, keyId: key.id, file };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function writeSecretFile(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  // mode applies at creation; chmod again in case a umask or an old file interfered.
  await writeFile(temporary, content, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}
