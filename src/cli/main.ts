/**
 * The `mcp-coordinator` command: parses the command line and runs a subcommand.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError } from "../config/errors.js";
import { configArgOptions, loadConfig } from "../config/load.js";
import { KeyRequestError } from "../auth/keys.js";
import { runDecisions } from "./decisions-command.js";
import { runInteractions } from "./interactions-command.js";
import { runKeys } from "./keys-command.js";
import { runMigrate } from "./migrate-command.js";
import { RemoteCallError } from "./remote.js";
import { runServe } from "./serve.js";
import { usage } from "./usage.js";
import { UsageError } from "./usage-error.js";

const COMMAND_OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  // keys
  role: { type: "string" },
  "mcp-id": { type: "string" },
  name: { type: "string" },
  principal: { type: "string" },
  expires: { type: "string" },
  all: { type: "boolean" },
  json: { type: "boolean" },
  // decisions
  address: { type: "string" },
  "api-key": { type: "string" },
  tls: { type: "boolean" },
  "tls-ca": { type: "string" },
  reason: { type: "string" },
  "response-key": { type: "string" },
  status: { type: "string", multiple: true },
  workflow: { type: "string" },
  assignee: { type: "string" },
  limit: { type: "string" },
  "page-token": { type: "string" },
  "after-revision": { type: "string" },
  // interactions (also --mcp-id, --status, --limit, --page-token, --json above)
  since: { type: "string" },
  until: { type: "string" },
  "request-type": { type: "string" },
  success: { type: "string" },
  session: { type: "string" },
  window: { type: "string" },
  interaction: { type: "string" },
  kind: { type: "string", multiple: true },
} as const;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...configArgOptions(), ...COMMAND_OPTIONS },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (values.version) {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const [command = "serve", ...rest] = positionals;
  const config = loadConfig(values, process.env);
  switch (command) {
    case "serve":
      if (rest.length) throw new UsageError(`serve takes no arguments; got "${rest.join(" ")}"`);
      return runServe(config);
    case "migrate":
      return runMigrate(config);
    case "keys":
      return runKeys(config, rest, values);
    case "decisions":
      return runDecisions(config, rest, values);
    case "interactions":
      return runInteractions(config, rest, values);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const expected =
      error instanceof ConfigError ||
      error instanceof UsageError ||
      error instanceof KeyRequestError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    // A refused gRPC call already says what to do; no stack, no usage hint.
    process.stderr.write(`mcp-coordinator: ${(error as Error).message}\n`);
    if (error instanceof RemoteCallError) {
      process.exitCode = 1;
      return;
    }
    if (expected) process.stderr.write("Run 'mcp-coordinator --help' for usage.\n");
    process.exitCode = expected ? 2 : 1;
  },
);
