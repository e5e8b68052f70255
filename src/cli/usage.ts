/**
 * `--help` text for the command and its subcommands.
 */
import { configHelp } from "../config/load.js";

/** The top-level usage. */
export function usage(): string {
  return `mcp-coordinator: the coordinator MCP servers report to and workflows ask humans through.

Usage:
  mcp-coordinator [serve] [options]       run the gRPC server (the default command)
  mcp-coordinator migrate [options]       apply database migrations and exit
  mcp-coordinator keys create --role <mcp|workflow|operator|admin> [--mcp-id <id>] [--name <text>]
                              [--principal <who, e.g. alice@example.com; default: the key id>]
                              [--expires <90d | 2027-01-01T00:00:00Z>] [--json] [options]
  mcp-coordinator keys list [--all] [--json] [options]
  mcp-coordinator keys revoke <key-id> [options]
  mcp-coordinator decisions list [--status <pending|completed|expired|cancelled>]... [--workflow <id>]
                              [--assignee <principal>] [--limit <n>] [--page-token <token>] [--json]
  mcp-coordinator decisions show <decision-id> [--json]
  mcp-coordinator decisions watch [--status ...] [--workflow <id>] [--assignee <principal>]
                              [--after-revision <n>] [--json]     print pending decisions and changes
  mcp-coordinator decisions respond <decision-id> [--response-key <key>]      asks for the answer
  mcp-coordinator decisions respond <decision-id> --json '<DecisionResponse as protobuf JSON>'
  mcp-coordinator decisions cancel <decision-id> [--reason <text>] [--json]
      decisions talk to a running coordinator: --address <host:port> (default: the --listen
      address, else 127.0.0.1:50051), with an operator or admin key: --api-key <key> or MCPC_API_KEY;
      over TLS with --tls (the system's CAs) or --tls-ca <file> (MCPC_TLS_CA: PEM CA or server certificate)
  mcp-coordinator --help | --version

Options (a flag beats its environment variable, which beats the default):
${configHelp()}

Exit status: 0 success, 1 runtime failure, 2 bad usage or configuration.
`;
}
