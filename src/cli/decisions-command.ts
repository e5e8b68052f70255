/**
 * `mcp-coordinator decisions list | show | watch | respond | cancel`: the operator's console,
 * talking to a running coordinator over gRPC (HumanLoopService) with an API key.
 */
import { fromJsonString, toJson } from "@bufbuild/protobuf";
import { ClientError } from "nice-grpc";
import { DecisionAuditEntrySchema } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import { DecisionResponseSchema } from "../../gen/coordinator/v1/decision_response_pb.js";
import type { Config } from "../config/options.js";
import { createHumanLoop } from "../client/human-loop.js";
import type { HumanLoop, StatusFilter } from "../client/human-loop-types.js";
import { uuidv7 } from "../client/uuidv7.js";
import { decisionJson, listTable, responseSummary, showText, specText, statusName, watchLine } from "./decision-format.js";
import { lineReader, promptResponse } from "./decision-prompt.js";
import { positiveInteger } from "./flag-values.js";
import { explainCallError, RemoteCallError, remoteTarget, type RemoteFlags } from "./remote.js";
import { UsageError } from "./usage-error.js";

/** The parsed flags the decisions command reads. */
export interface DecisionsFlags extends RemoteFlags {
  json?: boolean | undefined;
  reason?: string | undefined;
  "response-key"?: string | undefined;
  status?: string[] | undefined;
  workflow?: string | undefined;
  assignee?: string | undefined;
  limit?: string | undefined;
  "page-token"?: string | undefined;
  "after-revision"?: string | undefined;
}

/**
 * Runs a decisions subcommand.
 *
 * @param args - positionals after `decisions` (e.g. `["respond", "<id>"]`).
 */
export async function runDecisions(config: Config, args: string[], flags: DecisionsFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [action, ...rest] = args;
  const actions = ["list", "show", "watch", "respond", "cancel"];
  if (!action || !actions.includes(action)) {
    throw new UsageError(`decisions needs ${actions.slice(0, -1).join(", ")} or cancel${action ? `; got "${action}"` : ""}`);
  }
  const target = await remoteTarget(config, flags, env, "decisions needs an API key: --api-key <key> or MCPC_API_KEY (an operator or admin key)");
  const humanLoop = createHumanLoop({
    ...target,
    logger: stderrLogger(),
    // A person is waiting at the terminal: retry a dropped connection briefly, then say so.
    callRetryMs: 5_000,
  });
  try {
    return await run(humanLoop, action, rest, flags);
  } catch (error) {
    if (error instanceof ClientError) throw new RemoteCallError(explainCallError(error));
    throw error;
  } finally {
    humanLoop.close();
  }
}

async function run(humanLoop: HumanLoop, action: string, rest: string[], flags: DecisionsFlags): Promise<number> {
  const out = (text: string) => process.stdout.write(text);
  switch (action) {
    case "list": {
      noMore(rest, 0, "decisions list takes no arguments (filter with --status, --workflow, --assignee)");
      const page = await humanLoop.list({
        statuses: statuses(flags.status),
        workflowId: flags.workflow,
        assignee: flags.assignee,
        pageSize: flags.limit === undefined ? undefined : positiveInteger("--limit", flags.limit),
        pageToken: flags["page-token"],
      });
      if (flags.json) out(`${JSON.stringify({ decisions: page.decisions.map(decisionJson), nextPageToken: page.nextPageToken })}\n`);
      else {
        out(listTable(page.decisions));
        if (page.nextPageToken) process.stderr.write(`more: --page-token ${page.nextPageToken}\n`);
      }
      return 0;
    }
    case "show": {
      const id = oneId(rest, "show");
      const { decision, audit } = await humanLoop.get(id, { includeAudit: true });
      if (flags.json) out(`${JSON.stringify({ decision: decisionJson(decision), audit: audit.map((e) => toJson(DecisionAuditEntrySchema, e)) })}\n`);
      else out(showText(decision, audit));
      return 0;
    }
    case "watch":
      noMore(rest, 0, "decisions watch takes no arguments (filter with --status, --workflow, --assignee)");
      return watch(humanLoop, flags);
    case "respond":
      return respond(humanLoop, rest, flags);
    case "cancel": {
      const id = oneId(rest, "cancel");
      const decision = await humanLoop.cancel(id, flags.reason ?? "");
      if (flags.json) out(`${JSON.stringify(decisionJson(decision))}\n`);
      else out(`cancelled ${decision.id}${decision.cancelReason ? ` (${decision.cancelReason})` : ""}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown decisions action "${action}"`);
  }
}

/** Prints every change until interrupted; the client resumes after the last revision on reconnect. */
async function watch(humanLoop: HumanLoop, flags: DecisionsFlags): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const changes = humanLoop.watch({
      statuses: statuses(flags.status),
      workflowId: flags.workflow,
      assignee: flags.assignee,
      afterRevision: flags["after-revision"] === undefined ? 0 : nonNegativeInteger("--after-revision", flags["after-revision"]),
      signal: controller.signal,
    });
    if (!flags.json) process.stderr.write("watching decisions (Ctrl-C to stop); columns: revision status id workflow title kind outcome\n");
    for await (const decision of changes) {
      process.stdout.write(flags.json ? `${JSON.stringify(decisionJson(decision))}\n` : watchLine(decision));
    }
    return 0;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

async function respond(humanLoop: HumanLoop, rest: string[], flags: DecisionsFlags): Promise<number> {
  const [id, json, ...extra] = rest;
  if (!id) throw new UsageError("decisions respond needs a decision id");
  if (extra.length || (json !== undefined && !flags.json)) throw new UsageError(`decisions respond takes one decision id; got "${rest.join(" ")}"`);
  const responseKey = flags["response-key"] ?? uuidv7();
  let response;
  if (flags.json) {
    if (json === undefined) throw new UsageError("decisions respond --json needs the DecisionResponse as JSON, e.g. --json '{\"action\":\"RESPONSE_ACTION_ACCEPT\"}'");
    try {
      response = fromJsonString(DecisionResponseSchema, json);
    } catch (error) {
      throw new UsageError(`--json is not a DecisionResponse in protobuf JSON: ${(error as Error).message}`);
    }
  } else {
    const { decision } = await humanLoop.get(id);
    if (decision.status !== DecisionStatus.PENDING) {
      throw new RemoteCallError(`FAILED_PRECONDITION: decision is already ${statusName(decision.status)}`);
    }
    const say = (text: string) => process.stdout.write(text);
    say(`${decision.title}\n${decision.message ? `\n${decision.message}\n` : ""}\n${specText(decision.spec)}`);
    const reader = lineReader(process.stdin, process.stdout);
    try {
      response = await promptResponse(decision, reader.ask, say);
    } finally {
      reader.close();
    }
  }
  const decision = await humanLoop.respond(id, response, { responseKey });
  process.stdout.write(
    flags.json ? `${JSON.stringify(decisionJson(decision))}\n` : `answered ${decision.id}: now ${statusName(decision.status)}${decision.outcome ? `, outcome ${responseSummary(decision.outcome)}` : ""}\n`,
  );
  return 0;
}

function statuses(values: string[] | undefined): StatusFilter[] {
  const known = ["pending", "completed", "expired", "cancelled"];
  return (values ?? []).flatMap((v) => v.split(",")).map((v) => {
    const name = v.trim().toLowerCase();
    if (!known.includes(name)) throw new UsageError(`--status must be one of ${known.join(", ")}; got "${v}"`);
    return name as StatusFilter;
  });
}

function oneId(rest: string[], action: string): string {
  if (rest.length !== 1) throw new UsageError(`decisions ${action} takes exactly one decision id`);
  return rest[0]!;
}

function noMore(rest: string[], allowed: number, message: string): void {
  if (rest.length > allowed) throw new UsageError(message);
}

function nonNegativeInteger(flag: string, raw: string): bigint {
  if (!/^\d+$/.test(raw)) throw new UsageError(`${flag} must be a whole number >= 0; got "${raw}"`);
  return BigInt(raw);
}

/** Reconnects and retries are worth a line on stderr; the key never appears in them. */
function stderrLogger() {
  const noop = () => undefined;
  const line = (context: Record<string, unknown>, message: string) =>
    process.stderr.write(`${message}${context.err ? ` (${String(context.err)})` : ""}\n`);
  return { debug: noop, info: noop, warn: line, error: line };
}
