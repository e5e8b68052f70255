/**
 * Per-test databases on the one PostgreSQL server of the test run (see hooks.ts): each call clones
 * the migrated template, which takes milliseconds and isolates test files from each other.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Pool } from "pg";

import { createPool } from "../../src/store/pool.js";
import { testLogger } from "./logger.js";

/** Where the run's server is; set by hooks.ts before any test runs. */
interface TestServer {
  /** A connection string to the server; only its database name is replaced. */
  baseUrl: string;
  /** Database used for CREATE/DROP DATABASE. */
  adminDatabase: string;
  /** The migrated template every test database is cloned from. */
  template: string;
  admin: Pool;
}

let server: TestServer | undefined;
/** Databases created and not yet dropped, so a forgetful test file does not leak them. */
const created = new Set<string>();

/** Called by hooks.ts once the server and the template exist. @internal */
export function registerTestServer(baseUrl: string, adminDatabase: string, template: string): void {
  const admin = new pg.Pool({ connectionString: withDatabase(baseUrl, adminDatabase), max: 2 });
  admin.on("error", () => undefined); // the server may go away first at the end of the run
  server = { baseUrl, adminDatabase, template, admin };
}

/** Drops what tests left behind and closes the admin pool; called by hooks.ts. @internal */
export async function unregisterTestServer(): Promise<void> {
  if (!server) return;
  for (const name of created) await dropDatabase(name);
  await server.admin.end();
  server = undefined;
}

function current(): TestServer {
  if (!server) throw new Error("No test database server: is test/support/hooks.ts loaded (.mocharc.json \"require\")?");
  return server;
}

/** A connection string to database `dbName` on the test run's server. */
export function serverConnectionString(dbName: string): string {
  return withDatabase(current().baseUrl, dbName);
}

/** The server's admin pool (connected to a maintenance database), for CREATE/DROP DATABASE. */
export function adminPool(): Pool {
  return current().admin;
}

/** A database made for one test file (or test). */
export interface TestDatabase {
  name: string;
  connectionString: string;
  /** A pool on it, ended by drop(). */
  pool: Pool;
  /** Ends the pool and drops the database (forcibly disconnecting anyone left). */
  drop(): Promise<void>;
}

/**
 * Creates a fresh database with a unique name: a clone of the migrated template, or, with
 * `{ migrated: false }`, an empty one (for testing migrations themselves).
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const { admin, template } = current();
  const name = `mcpc_test_${randomBytes(6).toString("hex")}`;
  const source = options.migrated === false ? "template0" : template;
  // Why: cloning a template copies the migrated schema without re-running migrations per test.
  await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(source)}`);
  created.add(name);
  const connectionString = serverConnectionString(name);
  const pool = createPool(connectionString, testLogger(), { max: 5 });
  let dropped: Promise<void> | undefined;
  return {
    name,
    connectionString,
    pool,
    drop: () =>
      (dropped ??= (async () => {
        await pool.end();
        await dropDatabase(name);
      })()),
  };
}

async function dropDatabase(name: string): Promise<void> {
  // Why: FORCE ends connections a test left open (a coordinator's LISTEN client, say).
  await current().admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  created.delete(name);
}

/**
 * Polls `condition` until it returns a truthy value, and returns that value. Exceptions thrown by
 * the condition count as "not yet". Tests wait for an observable state with a deadline this way
 * instead of sleeping a guessed amount of time.
 *
 * @throws after `timeoutMs` (default 5 s), naming `message` and the condition's last error.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError === undefined ? "" : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`waitFor: ${options.message ?? "condition"} not met within ${timeoutMs} ms${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
  }
}

/** Replaces the database part of a postgres URL. */
export function withDatabase(connectionString: string, dbName: string): string {
  const url = new URL(connectionString);
  url.pathname = `/${encodeURIComponent(dbName)}`;
  return url.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
