import { expect } from "chai";
import { copyFile, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { loadMigrations, migrate, MIGRATIONS_DIR } from "../../src/store/migrate.js";
import { createPool } from "../../src/store/pool.js";
import { createTestDatabase } from "../support/database.js";
import type { TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";

/** A private copy of the shipped migrations plus `extra` files, so tests can add and edit files. */
async function migrationsCopy(extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "mcpc-migrations-"));
  for (const name of await readdir(MIGRATIONS_DIR)) await copyFile(path.join(MIGRATIONS_DIR, name), path.join(dir, name));
  for (const [name, sql] of Object.entries(extra)) await writeFile(path.join(dir, name), sql);
  return dir;
}

async function tableNames(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
  );
  return rows.map((row) => row.name);
}

describe("migrate", () => {
  let db: TestDatabase;
  const dirs: string[] = [];

  beforeEach(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterEach(async () => {
    await db.drop();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("creates the tables of every migration in an empty database", async () => {
    expect(await tableNames(db)).to.deep.equal([]);
    const shipped = (await loadMigrations(MIGRATIONS_DIR)).map((m) => m.name);
    const { applied } = await migrate(db.pool, testLogger());
    expect(applied).to.deep.equal(shipped);
    expect(await tableNames(db)).to.include.members(["api_keys", "schema_migrations"]);
    const { rows } = await db.pool.query<{ name: string; checksum: string }>("SELECT name, checksum FROM schema_migrations ORDER BY version");
    expect(rows.map((row) => row.name)).to.deep.equal(shipped);
    for (const row of rows) expect(row.checksum).to.match(/^[0-9a-f]{64}$/);
  });

  it("is a no-op the second time", async () => {
    await migrate(db.pool, testLogger());
    const before = await db.pool.query("SELECT version, applied_at FROM schema_migrations ORDER BY version");
    const { applied } = await migrate(db.pool, testLogger());
    expect(applied).to.deep.equal([]);
    const after = await db.pool.query("SELECT version, applied_at FROM schema_migrations ORDER BY version");
    expect(after.rows).to.deep.equal(before.rows);
  });

  it("applies each migration exactly once when 5 replicas migrate at the same moment", async () => {
    // Extra migrations that take a moment and would fail if run twice (CREATE TABLE without
    // IF NOT EXISTS), so overlapping runners would show up as errors or duplicate rows.
    const dir = await migrationsCopy({
      "9001_slow_one.sql": "SELECT pg_sleep(0.2); CREATE TABLE concurrency_one (id int);",
      "9002_slow_two.sql": "SELECT pg_sleep(0.2); CREATE TABLE concurrency_two (id int);",
    });
    dirs.push(dir);
    const pools = Array.from({ length: 5 }, () => createPool(db.connectionString, testLogger(), { max: 2 }));
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool, testLogger(), { directory: dir })));
      const all = results.flatMap((result) => result.applied).sort();
      const expected = (await loadMigrations(dir)).map((m) => m.name).sort();
      expect(all).to.deep.equal(expected);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
    const { rows } = await db.pool.query<{ count: string }>("SELECT count(*) FROM schema_migrations");
    expect(Number(rows[0]?.count)).to.equal((await loadMigrations(dir)).length);
    expect(await tableNames(db)).to.include.members(["concurrency_one", "concurrency_two"]);
  });

  it("refuses to run when an applied migration was changed", async () => {
    const dir = await migrationsCopy({ "9001_extra.sql": "CREATE TABLE extra (id int);" });
    dirs.push(dir);
    await migrate(db.pool, testLogger(), { directory: dir });
    await writeFile(path.join(dir, "9001_extra.sql"), "CREATE TABLE extra (id bigint);");
    const error = await migrate(db.pool, testLogger(), { directory: dir }).then(() => undefined, (err: unknown) => err);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.match(/9001_extra\.sql changed after it was applied/);
  });

  it("refuses to run when the database is newer than the code", async () => {
    const dir = await migrationsCopy({ "9001_extra.sql": "CREATE TABLE extra (id int);" });
    dirs.push(dir);
    await migrate(db.pool, testLogger(), { directory: dir });
    const error = await migrate(db.pool, testLogger()).then(() => undefined, (err: unknown) => err);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.match(/9001_extra\.sql, newer than this coordinator knows/);
  });

  it("rolls back a failing migration and names it", async () => {
    const dir = await migrationsCopy({ "9001_broken.sql": "CREATE TABLE half_done (id int); SELECT no_such_function();" });
    dirs.push(dir);
    const error = await migrate(db.pool, testLogger(), { directory: dir }).then(() => undefined, (err: unknown) => err);
    expect((error as Error).message).to.match(/Migration 9001_broken\.sql failed and was rolled back/);
    expect(await tableNames(db)).not.to.include("half_done");
    // The migrations before it stay applied; the broken one is retried next time.
    const { rows } = await db.pool.query<{ name: string }>("SELECT name FROM schema_migrations");
    expect(rows.map((row) => row.name)).not.to.include("9001_broken.sql");
  });

  it("rejects misnamed migration files", async () => {
    const dir = await migrationsCopy({ "extra.sql": "SELECT 1;" });
    dirs.push(dir);
    const error = await loadMigrations(dir).then(() => undefined, (err: unknown) => err);
    expect((error as Error).message).to.match(/extra\.sql .* is not named NNNN_description\.sql/);
  });
});
