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
  mcp-coordinator interactions list [--mcp-id <id>] [--status <started|in_progress|completed|failed>]
                              [--since <24h | 2026-11-22T00:00:00Z>] [--until <time>] [--request-type <t>]
                              [--success <true|false>] [--session <id>] [--limit <n>] [--page-token <token>]
                              [--json]                 interaction summaries, newest first
  mcp-coordinator interactions show <interaction-id> [--mcp-id <id>] [--json]   summary and every event
  mcp-coordinator interactions metrics [--mcp-id <id>] [--window <1h|24h|7d|30d> | --since <time>
                              [--until <time>]] [--json]     counts, rates, times, errors, throughput
  mcp-coordinator interactions tail [--mcp-id <id>] [--interaction <id>]
                              [--kind <started,progress,completed,failed>] [--json]
                              print events as they are stored, until Ctrl-C (one JSON object a line)
      interactions connect like decisions (--address, --api-key / MCPC_API_KEY, --tls, --tls-ca) with an
      operator or admin key (metrics also takes a workflow key); --since/--until take a duration ago
      (30m, 24h, 7d) or an ISO 8601 time; --json prints protobuf JSON
  mcp-coordinator --help | --version

Options (a flag beats its environment variable, which beats the default):
${configHelp()}

Exit status: 0 success, 1 runtime failure, 2 bad usage or configuration.
`;
}
