/**
 * First start: make sure an admin key exists, so the quick start works without a manual step.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Pool } from "pg";
import { withTransaction } from "../store/transaction.js";
import { countAdminKeys, lockAdminKeyBootstrap } from "./key-queries.js";
import { createKey } from "./keys.js";

/** The file (under the data directory) that holds the first-start admin key. */
export const ADMIN_KEY_FILE = "admin.key";

/** What {@link ensureAdminKey} did. */
export type BootstrapResult = { created: false } | { created: true; token: string; keyId: string; file: string };

/**
 * Creates an admin key when none was ever created, and saves it to `<dataDir>/admin.key` with
 * mode 0600. The caller shows the token once; it is never logged.
 *
 * Safe with several replicas starting at once: a transaction-scoped advisory lock makes the
 * check-then-create atomic, so exactly one key is made.
 */
export async function ensureAdminKey(pool: Pool, dataDir: string): Promise<BootstrapResult> {
  return withTransaction(pool, async (client) => {
    await lockAdminKeyBootstrap(client);
    if ((await countAdminKeys(client)) > 0) return { created: false };
    const { key, token } = await createKey(client, { role: "admin", name: "first-start admin key" });
    const file = path.resolve(dataDir, ADMIN_KEY_FILE);
    // Written before COMMIT: if the file cannot be saved, no key exists that nobody can read.
    await writeSecretFile(file, `${token}\n`);
    return { created: true as const, token, keyId: key.id, file };
  });
}

async function writeSecretFile(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  // An unpredictable name created exclusively ("wx"): never follows a planted symlink, and the
  // mode applies at creation, so the secret is never readable by others, even briefly.
  const temporary = `${file}.${randomBytes(8).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, content, { mode: 0o600, flag: "wx" });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
