import { expect } from "chai";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCoordinator } from "../support/process.js";

describe("migrate command", () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase({ migrated: false });
  });
  after(async () => {
    await database.drop();
  });

  it("applies pending migrations, then reports nothing to apply", async () => {
    const first = runCoordinator(["migrate"], { DATABASE_URL: database.connectionString });
    expect(await first.exited()).to.equal(0);
    expect(first.logs.map((r) => r.msg).join("\n")).to.match(/^applied: 0001_api_keys/);
    const { rows } = await database.pool.query("SELECT to_regclass('api_keys') IS NOT NULL AS present");
    expect(rows[0].present).to.equal(true);

    const second = runCoordinator(["migrate"], { DATABASE_URL: database.connectionString });
    expect(await second.exited()).to.equal(0);
    expect(second.logs.map((r) => r.msg).join("\n")).to.contain("nothing to apply");
  });
});
