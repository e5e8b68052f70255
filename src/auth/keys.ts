/**
 * Managing API keys: create, list, revoke. Used by the CLI and the first-start bootstrap.
 */
import type { Pool, PoolClient } from "pg";
import { isRole, mintKey, ROLES, type Role } from "./api-key.js";
import { MCP_ID_PATTERN } from "../mcp-id.js";
import { insertKey, listKeys, revokeKey, type KeyRow } from "./key-queries.js";

/** A request to create a key that breaks a rule; the message names the field. */
export class KeyRequestError extends Error {
  override name = "KeyRequestError";
}

/** What a new key is for. */
export interface NewKey {
  role: string;
  /** Required for (and only for) the mcp role: the MCP this key acts as. */
  mcpId?: string | undefined;
  name?: string | undefined;
  /** Who the key acts for in the human loop (creator, responder, assignee). Default: the key id. */
  principal?: string | undefined;
  expiresAt?: Date | undefined;
}

/**
 * Validates and stores a new key.
 *
 * @returns the stored row and the token: the only time the secret exists outside the client.
 * @throws KeyRequestError naming the field when the request is inconsistent.
 */
export async function createKey(db: Pool | PoolClient, request: NewKey): Promise<{ key: KeyRow; token: string }> {
  if (!isRole(request.role)) {
    throw new KeyRequestError(`role must be one of ${ROLES.join(", ")}; got "${request.role}"`);
  }
  const role: Role = request.role;
  const mcpId = request.mcpId?.trim() || undefined;
  if (role === "mcp" && !mcpId) throw new KeyRequestError("mcp_id is required for role mcp (the MCP this key acts as)");
  if (role !== "mcp" && mcpId) throw new KeyRequestError(`mcp_id is only allowed with role mcp, not ${role}`);
  if (mcpId && !MCP_ID_PATTERN.test(mcpId)) {
    throw new KeyRequestError("mcp_id must be 1-128 characters of letters, digits and . _ : - (starting with a letter or digit)");
  }
  const principal = request.principal?.trim() || undefined;
  if (principal !== undefined && principal.length > 200) throw new KeyRequestError("principal must be at most 200 characters");
  if (request.expiresAt && request.expiresAt.getTime() <= Date.now()) {
    throw new KeyRequestError(`expires_at must be in the future; got ${request.expiresAt.toISOString()}`);
  }
  const minted = mintKey();
  const key = await insertKey(db, {
    id: minted.id,
    secretSha256: minted.secretSha256,
    role,
    mcpId: mcpId ?? null,
    name: request.name ?? "",
    principal: principal ?? null,
    expiresAt: request.expiresAt ?? null,
  });
  return { key, token: minted.token };
}

/** Lists keys (never their secrets). */
export function listApiKeys(db: Pool, options: { includeRevoked: boolean }): Promise<KeyRow[]> {
  return listKeys(db, options);
}

/**
 * Revokes a key; calls with it fail from the next cache refresh on (see Authenticator).
 *
 * @throws KeyRequestError when no key has that id.
 */
export async function revokeApiKey(db: Pool, id: string): Promise<KeyRow> {
  const row = await revokeKey(db, id);
  if (!row) throw new KeyRequestError(`no API key with id "${id}"`);
  return row;
}
