/**
 * `npm run generate`: regenerate gen/ from proto/.
 *
 * 1. `buf generate` runs the local protoc-gen-es (pinned in package.json) into gen/.
 * 2. `buf build` writes gen/coordinator.binpb: the descriptor set reflection serves. It keeps the
 *    .proto comments, which protoc-gen-es strips from the descriptors it embeds.
 *
 * `--out DIR` writes to DIR/gen instead (the drift test compares that with the committed gen/).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

const root = path.resolve(import.meta.dirname, "..");
const { values } = parseArgs({ options: { out: { type: "string" } } });
const base = path.resolve(values.out ?? root);
const buf = path.join(root, "node_modules", ".bin", "buf");

execFileSync(buf, ["generate", "--output", base], { cwd: root, stdio: "inherit" });
mkdirSync(path.join(base, "gen"), { recursive: true });
execFileSync(buf, ["build", "--as-file-descriptor-set", "--output", path.join(base, "gen", "coordinator.binpb")], {
  cwd: root,
  stdio: "inherit",
});
