/**
 * Turns a presented bearer token into a Principal, or says precisely why it cannot.
 */
import type { Pool } from "pg";
import { parseKey, secretMatches, type Role } from "./api-key.js";
import { findKey, type KeyRow } from "./key-queries.js";

/** Who is calling: derived from the key, never from a request body. */
export interface Principal {
  /** Public key id; what audit rows and logs record. */
  keyId: string;
  role: Role;
  /** For role mcp: the only MCP this caller may act as. */
  mcpId: string | undefined;
  /** The key's human-readable name. */
  name: string;
  /** Who the key acts for in the human loop (creator, responder, assignee): its principal, else its id. */
  principal: string;
}

/** Why a token was refused. Messages never contain the secret. */
export class AuthenticationError extends Error {
  override name = "AuthenticationError";
  constructor(
    readonly reason: "missing" | "malformed" | "unknown" | "expired" | "revoked",
    message: string,
  ) {
    super(message);
  }
}

/** Options for {@link Authenticator}. */
export interface AuthenticatorOptions {
  /**
   * How long a looked-up key is reused before it is read again. This bounds how long a revoked
   * key keeps working; expiry is checked on every call regardless.
   */
  cacheTtlMs?: number;
  now?: () => number;
}

/** Validates bearer tokens against the api_keys table, with a short-lived cache. */
export class Authenticator {
  readonly #pool: Pool;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { row: KeyRow | undefined; fetchedAt: number }>();

  constructor(pool: Pool, options: AuthenticatorOptions = {}) {
    this.#pool = pool;
    this.#ttlMs = options.cacheTtlMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Authenticates the value of an `authorization` header.
   *
   * @throws AuthenticationError with the reason (missing, malformed, unknown, expired, revoked).
   */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) {
      throw new AuthenticationError("missing", "missing API key: send the header 'authorization: Bearer <key>'");
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    const parsed = match ? parseKey(match[1]!) : undefined;
    if (!parsed) {
      throw new AuthenticationError("malformed", "malformed authorization header: expected 'Bearer mcpc_<id>_<secret>'");
    }
    const row = await this.#lookup(parsed.id);
    // Same message for unknown id and wrong secret: do not confirm which ids exist.
    if (!row || !secretMatches(parsed.secret, row.secretSha256)) {
      throw new AuthenticationError("unknown", `unknown API key (id ${parsed.id})`);
    }
    if (row.revokedAt) {
      throw new AuthenticationError("revoked", `API key ${row.id} was revoked at ${row.revokedAt.toISOString()}`);
    }
    if (row.expiresAt && row.expiresAt.getTime() <= this.#now()) {
      throw new AuthenticationError("expired", `API key ${row.id} expired at ${row.expiresAt.toISOString()}`);
    }
    return { keyId: row.id, role: row.role, mcpId: row.mcpId ?? undefined, name: row.name, principal: row.principal ?? row.id };
  }

  async #lookup(id: string): Promise<KeyRow | undefined> {
    const cached = this.#cache.get(id);
    const now = this.#now();
    if (cached && now - cached.fetchedAt < this.#ttlMs) return cached.row;
    const row = await findKey(this.#pool, id);
    // Only known ids are cached, so random guesses cannot grow the map without bound.
    if (row) this.#cache.set(id, { row, fetchedAt: now });
    else this.#cache.delete(id);
    return row;
  }
}
