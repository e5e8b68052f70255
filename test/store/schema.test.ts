import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { dumpSchema } from "../../src/store/schema-dump.js";
import { createTestDatabase } from "../support/database.js";

const SCHEMA_FILE = fileURLToPath(new URL("../../src/store/schema.sql", import.meta.url));

describe("committed schema dump", () => {
  it("matches a freshly migrated database", async () => {
    const db = await createTestDatabase();
    try {
      const actual = await dumpSchema(db.pool);
      const committed = await readFile(SCHEMA_FILE, "utf8").catch(() => "(missing)");
      expect(actual, "src/store/schema.sql is out of date: run `npm run schema:dump` and commit the result").to.equal(committed);
    } finally {
      await db.drop();
    }
  });
});
