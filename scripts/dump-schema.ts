/**
 * Writes src/store/schema.sql: the schema a fresh database has after all migrations
 * (`npm run schema:dump`; test/store/schema.test.ts fails when the file is stale).
 *
 * A brand-new database is used, never an existing one: on the server of DATABASE_URL when set
 * (a temporary database, dropped afterwards; the role needs CREATEDB), otherwise on an embedded
 * PostgreSQL started in a temporary directory.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { pino } from "pino";

import { startEmbeddedPostgres } from "../src/store/embedded.js";
import type { EmbeddedPostgres } from "../src/store/embedded.js";
import { migrate } from "../src/store/migrate.js";
import { createPool } from "../src/store/pool.js";
import { dumpSchema } from "../src/store/schema-dump.js";

const OUTPUT = fileURLToPath(new URL("../src/store/schema.sql", import.meta.url));
const logger = pino({ level: process.env.LOG_LEVEL ?? "warn" });

function withDatabase(connectionString: string, dbName: string): string {
  const url = new URL(connectionString);
  url.pathname = `/${dbName}`;
  return url.toString();
}

let tempDir: string | undefined;
let embedded: EmbeddedPostgres | undefined;
let serverUrl: string;
if (process.env.DATABASE_URL) {
  serverUrl = process.env.DATABASE_URL;
} else {
  tempDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-schema-"));
  await chmod(tempDir, 0o755); // as root, postgres runs as the "postgres" user and must enter it
  embedded = await startEmbeddedPostgres({ dataDir: tempDir, logger, settings: { fsync: "off" } });
  serverUrl = withDatabase(embedded.connectionString, "postgres");
}

const dbName = `mcpc_schema_dump_${randomBytes(6).toString("hex")}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
try {
  // Why: an empty database, so the dump shows exactly what the migrations create.
  await admin.query(`CREATE DATABASE "${dbName}" TEMPLATE template0`);
  const pool = createPool(withDatabase(serverUrl, dbName), logger, { max: 1 });
  try {
    await migrate(pool, logger);
    await writeFile(OUTPUT, await dumpSchema(pool));
  } finally {
    await pool.end();
  }
  console.log(`wrote ${path.relative(process.cwd(), OUTPUT)}`);
} finally {
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
  await admin.end();
  await embedded?.stop();
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
}
