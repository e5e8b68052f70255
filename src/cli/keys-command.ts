/**
 * `mcp-coordinator keys create | list | revoke`: manage API keys directly in the database.
 */
import type { Config } from "../config/options.js";
import type { KeyRow } from "../auth/key-queries.js";
import { createKey, listApiKeys, revokeApiKey } from "../auth/keys.js";
import { pointInTime } from "./flag-values.js";
import { UsageError } from "./usage-error.js";
import { withDatabase } from "./with-database.js";

/** The parsed flags the keys command reads. */
export interface KeysFlags {
  role?: string | undefined;
  "mcp-id"?: string | undefined;
  name?: string | undefined;
  principal?: string | undefined;
  expires?: string | undefined;
  all?: boolean | undefined;
  json?: boolean | undefined;
}

/**
 * Runs a keys subcommand.
 *
 * @param args - positionals after `keys` (e.g. `["revoke", "<id>"]`).
 */
export async function runKeys(config: Config, args: string[], flags: KeysFlags): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case "create": {
      if (!flags.role) throw new UsageError("keys create needs --role (mcp, workflow, operator or admin)");
      const expiresAt = flags.expires ? pointInTime("--expires", flags.expires, "ahead") : undefined;
      const { key, token } = await withDatabase(config, (pool) =>
        createKey(pool, { role: flags.role!, mcpId: flags["mcp-id"], name: flags.name, principal: flags.principal, expiresAt }),
      );
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...describe(key), token })}\n`);
      } else {
        process.stdout.write(`${token}\n`);
        process.stderr.write(`created key ${key.id} (role ${key.role}${key.mcpId ? `, mcp ${key.mcpId}` : ""}); the line above is shown only once\n`);
      }
      return 0;
    }
    case "list": {
      const keys = await withDatabase(config, (pool) => listApiKeys(pool, { includeRevoked: Boolean(flags.all) }));
      if (flags.json) process.stdout.write(`${JSON.stringify(keys.map(describe))}\n`);
      else process.stdout.write(table(keys.map(describe)));
      return 0;
    }
    case "revoke": {
      const [id] = rest;
      if (!id || rest.length > 1) throw new UsageError("keys revoke takes exactly one key id (see keys list)");
      const key = await withDatabase(config, (pool) => revokeApiKey(pool, id));
      process.stdout.write(`revoked ${key.id} at ${key.revokedAt!.toISOString()}\n`);
      return 0;
    }
    default:
      throw new UsageError(`keys needs create, list or revoke${action ? `; got "${action}"` : ""}`);
  }
}

function describe(key: KeyRow) {
  const now = Date.now();
  const status = key.revokedAt ? "revoked" : key.expiresAt && key.expiresAt.getTime() <= now ? "expired" : "active";
  return {
    id: key.id,
    role: key.role,
    mcp_id: key.mcpId,
    name: key.name,
    principal: key.principal ?? key.id,
    status,
    created_at: key.createdAt.toISOString(),
    expires_at: key.expiresAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}

function table(rows: ReturnType<typeof describe>[]): string {
  if (rows.length === 0) return "no keys\n";
  const columns = ["id", "role", "mcp_id", "principal", "status", "created_at", "expires_at", "name"] as const;
  const cells = rows.map((row) => columns.map((c) => String(row[c] ?? "-")));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const format = (values: readonly string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [format(columns), ...cells.map(format)].join("\n") + "\n";
}
