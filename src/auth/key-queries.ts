/**
 * SQL for the api_keys table: one function per statement.
 */
import type { Pool, PoolClient } from "pg";
import type { Role } from "./api-key.js";

type Queryable = Pool | PoolClient;

/** A stored key, as the domain sees it (never includes anything a client could authenticate with). */
export interface KeyRow {
  id: string;
  secretSha256: Buffer;
  role: Role;
  mcpId: string | null;
  name: string;
  /** Who the key acts for in the human loop; null: the key id. */
  principal: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

interface DbKeyRow {
  id: string;
  secret_sha256: Buffer;
  role: Role;
  mcp_id: string | null;
  name: string;
  principal: string | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = "id, secret_sha256, role, mcp_id, name, principal, created_at, expires_at, revoked_at";

function toKeyRow(row: DbKeyRow): KeyRow {
  return {
    id: row.id,
    secretSha256: row.secret_sha256,
    role: row.role,
    mcpId: row.mcp_id,
    name: row.name,
    principal: row.principal,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

/** Inserts a new key. */
export async function insertKey(
  db: Queryable,
  key: { id: string; secretSha256: Buffer; role: Role; mcpId: string | null; name: string; principal: string | null; expiresAt: Date | null },
): Promise<KeyRow> {
  // Plain insert: ids are 64 random bits, a collision is a bug worth an error, not a retry.
  const { rows } = await db.query<DbKeyRow>(
    `INSERT INTO api_keys (id, secret_sha256, role, mcp_id, name, principal, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     RETURNING ${COLUMNS}`,
    [key.id, key.secretSha256, key.role, key.mcpId, key.name, key.principal, key.expiresAt],
  );
  return toKeyRow(rows[0]!);
}

/** Finds a key by its public id, whatever its state (the caller decides what expired/revoked mean). */
export async function findKey(db: Queryable, id: string): Promise<KeyRow | undefined> {
  // Primary-key lookup: this runs on every authenticated call that misses the cache.
  const { rows } = await db.query<DbKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return rows[0] ? toKeyRow(rows[0]) : undefined;
}

/** Lists keys, newest first; revoked ones only when asked. */
export async function listKeys(db: Queryable, options: { includeRevoked: boolean }): Promise<KeyRow[]> {
  // Key counts are small (one per MCP and person); no pagination needed.
  const { rows } = await db.query<DbKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys
     WHERE $1 OR revoked_at IS NULL
     ORDER BY created_at DESC, id`,
    [options.includeRevoked],
  );
  return rows.map(toKeyRow);
}

/**
 * Revokes a key now. Revoking an already revoked key keeps the first revocation time.
 *
 * @returns the key after the change, or undefined when no key has that id.
 */
export async function revokeKey(db: Queryable, id: string): Promise<KeyRow | undefined> {
  // COALESCE keeps the original revocation time, so revoking twice is harmless and auditable.
  const { rows } = await db.query<DbKeyRow>(
    `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
     WHERE id = $1
     RETURNING ${COLUMNS}`,
    [id],
  );
  return rows[0] ? toKeyRow(rows[0]) : undefined;
}

/** Counts admin keys in any state (revoked and expired ones too). */
export async function countAdminKeys(db: Queryable): Promise<number> {
  // Asked at every start: the quick-start key is made only when no admin key was ever made, so
  // revoking every admin key sticks across restarts (recover with `keys create --role admin`).
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM api_keys WHERE role = 'admin'`);
  return Number(rows[0]!.n);
}

/**
 * Serialises the first-start check-then-create across replicas; released at the end of the
 * caller's transaction.
 */
export async function lockAdminKeyBootstrap(db: PoolClient): Promise<void> {
  // Transaction-scoped advisory lock: nothing to clean up if the process dies holding it.
  await db.query("SELECT pg_advisory_xact_lock(hashtext('mcp-coordinator:admin-key-bootstrap'))");
}
