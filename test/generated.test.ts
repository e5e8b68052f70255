/**
 * gen/ is committed; this fails when `npm run generate` would change it (a .proto edited without
 * regenerating, or gen/ edited by hand).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";

const ROOT = path.resolve(import.meta.dirname, "..");

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
    ),
  );
  return nested.flat().sort();
}

describe("generated code", () => {
  let out: string;
  before(async () => {
    out = await mkdtemp(path.join(os.tmpdir(), "mcpc-gen-"));
    await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/generate.ts", "--out", out], { cwd: ROOT });
  });
  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it("is exactly what `npm run generate` produces", async () => {
    const committed = await listFiles(path.join(ROOT, "gen"));
    const fresh = await listFiles(path.join(out, "gen"));
    expect(committed, "gen/ files differ from a fresh generation: run `npm run generate`").to.deep.equal(fresh);
    for (const file of fresh) {
      const same = Buffer.compare(await readFile(path.join(ROOT, "gen", file)), await readFile(path.join(out, "gen", file))) === 0;
      expect(same, `gen/${file} is stale or hand-edited: run \`npm run generate\``).to.equal(true);
    }
  });
});
