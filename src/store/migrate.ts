/**
 * Schema migrations: numbered `.sql` files in `src/store/migrations`, applied in order, once each.
 *
 * - A file is named `NNNN_description.sql`; its number is its version.
 * - Each file runs in its own transaction together with the row recording it, so a failed migration
 *   leaves nothing behind and is retried at the next start.
 * - A session-level advisory lock serializes runners: replicas starting together queue up, and the
 *   ones after the first find nothing left to do.
 * - Applied files are immutable: a changed checksum, or a database that knows a migration this code
 *   does not (an older coordinator after a newer one ran), stops the start with an explanation.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Pool, PoolClient } from "pg";
import type { Logger } from "pino";

/**
 * The advisory lock key that serializes migration runners: the ASCII bytes of "mcpc_mig" read as a
 * 64-bit integer (0x6d6370635f6d6967). Fixed and documented so operators can spot it in pg_locks
 * (classid 1835233379, objid 1601005927) and so no other part of the coordinator reuses it.
 */
export const MIGRATION_LOCK_KEY = 0x6d6370635f6d6967n;

/** The directory holding the migrations shipped with this code. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations/", import.meta.url));

const FILE_PATTERN = /^(\d{4,})_([a-z0-9_]+)\.sql$/;

/** One migration file. */
export interface Migration {
  version: number;
  /** File name, e.g. "0001_api_keys.sql". */
  name: string;
  sql: string;
  /** sha256 (hex) of the file with line endings normalised to \n. */
  checksum: string;
}

/** Options for {@link migrate}. */
export interface MigrateOptions {
  /** Where the .sql files are; default {@link MIGRATIONS_DIR}. Tests point it elsewhere. */
  directory?: string;
}

/**
 * Brings the database's schema up to date.
 *
 * @returns the file names applied by this call (empty when the database was already current).
 * @throws when an applied migration's file changed, the database is newer than this code, or a
 *   migration fails (its transaction is rolled back; the error names the file).
 */
export async function migrate(pool: Pool, logger: Logger, options: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const migrations = await loadMigrations(options.directory ?? MIGRATIONS_DIR);
  const log = logger.child({ component: "migrate" });
  const client = await pool.connect();
  try {
    // Why: waiting for the lock (another replica migrating) and the migrations themselves may take
    // longer than the pool's statement_timeout. The connection is discarded afterwards, so this
    // setting never leaks to other users of the pool.
    await client.query("SET statement_timeout = 0");
    // Why: one runner at a time across all replicas; session-level so it spans the per-file
    // transactions below, and released by the server if this connection dies.
    await client.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY.toString()]);
    try {
      return { applied: await applyPending(client, migrations, log) };
    } finally {
      // Why: let the next replica in now rather than when the connection is closed.
      // (If this fails the lock still ends with the connection, discarded below.)
      await client.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
    }
  } finally {
    // Always discard this connection: it carries session settings (and maybe the lock, if unlock
    // failed) that must not be handed to the next pool user.
    client.release(true);
  }
}

async function applyPending(client: PoolClient, migrations: Migration[], log: Logger): Promise<string[]> {
  // Why: the runner owns its bookkeeping table; created under the lock so two first starts cannot
  // race on CREATE TABLE IF NOT EXISTS (which can fail with a duplicate pg_type row).
  await client.query(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  // Why: what is already applied decides what is left to do, and is checked against the files.
  const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
    "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
  );
  verifyApplied(rows, migrations);

  const done = new Set(rows.map((row) => row.version));
  const applied: string[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    const started = Date.now();
    await client.query("BEGIN");
    try {
      // Why: the file itself; sent without parameters (simple protocol) so it may hold many statements.
      await client.query(migration.sql);
      // Why: recorded in the same transaction, so "applied" and "recorded" cannot disagree.
      await client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`Migration ${migration.name} failed and was rolled back: ${reason}`, { cause: err });
    }
    log.info({ migration: migration.name, ms: Date.now() - started }, "migration applied");
    applied.push(migration.name);
  }
  if (applied.length === 0) log.debug({ version: migrations.at(-1)?.version ?? 0 }, "schema is up to date");
  return applied;
}

/** Refuses a database whose history does not match the files (see the module comment). */
function verifyApplied(rows: Array<{ version: number; name: string; checksum: string }>, migrations: Migration[]): void {
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const latest = migrations.at(-1)?.version ?? 0;
  for (const row of rows) {
    const known = byVersion.get(row.version);
    if (!known) {
      throw new Error(
        row.version > latest
          ? `The database has migration ${row.name}, newer than this coordinator knows (latest ${latest}). ` +
              "Run a coordinator at least as new as the one that migrated this database."
          : `The database has migration ${row.name}, which is missing from ${MIGRATIONS_DIR}. ` +
              "Applied migrations must never be deleted or renumbered.",
      );
    }
    if (known.checksum !== row.checksum) {
      throw new Error(
        `Migration ${known.name} changed after it was applied (checksum ${row.checksum.slice(0, 12)}… in the ` +
          `database, ${known.checksum.slice(0, 12)}… on disk). Applied migrations are immutable: restore the ` +
          "file and put the change in a new migration.",
      );
    }
  }
}

/**
 * Reads and orders the migration files of a directory.
 *
 * @throws on a `.sql` file that is not named `NNNN_description.sql`, or two files with one number,
 *   rather than silently skipping or misordering them.
 */
export async function loadMigrations(directory: string): Promise<Migration[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const name of names) {
    const match = FILE_PATTERN.exec(name);
    if (!match) throw new Error(`Migration file ${name} in ${directory} is not named NNNN_description.sql`);
    const version = Number(match[1]);
    const duplicate = migrations.find((m) => m.version === version);
    if (duplicate) throw new Error(`Migrations ${duplicate.name} and ${name} share the number ${match[1]}`);
    const sql = await readFile(path.join(directory, name), "utf8");
    // CRLF checkouts (Windows, autocrlf) must not look like an edited migration.
    const checksum = createHash("sha256").update(sql.replace(/\r\n/g, "\n")).digest("hex");
    migrations.push({ version, name, sql, checksum });
  }
  // Sort by number, not name, so a 10000_ file after 9999_ still lands last.
  return migrations.sort((a, b) => a.version - b.version);
}
