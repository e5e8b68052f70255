/**
 * `mcp-coordinator interactions list | show | metrics | tail`: the interaction history, metrics
 * and live tail of a running coordinator (InteractionService over gRPC), as tables for people or
 * protobuf JSON (`--json`) for scripts.
 */
import { toJson } from "@bufbuild/protobuf";
import { ClientError, Status } from "nice-grpc";
import { InteractionSchema } from "../../gen/coordinator/v1/interaction_pb.js";
import { GetInteractionResponseSchema } from "../../gen/coordinator/v1/interaction_query_pb.js";
import { GetPerformanceMetricsResponseSchema } from "../../gen/coordinator/v1/performance_metrics_pb.js";
import type { Config } from "../config/options.js";
import { createInteractionClient, openChannel, type InteractionClient } from "../client/channel.js";
import { interactionsTable, interactionText } from "./interaction-format.js";
import { checkAction, listRequest, metricsRequest, showRequest, tailRequest, type InteractionsAction, type InteractionsFlags } from "./interaction-requests.js";
import { tail } from "./interactions-tail.js";
import { metricsText } from "./metrics-format.js";
import { explainCallError, RemoteCallError, remoteTarget } from "./remote.js";

export type { InteractionsFlags } from "./interaction-requests.js";

const KEY_HINT = "interactions needs an API key: --api-key <key> or MCPC_API_KEY (an operator or admin key; a workflow key may read metrics)";

/**
 * Runs an interactions subcommand.
 *
 * @param args - positionals after `interactions` (e.g. `["show", "<id>"]`).
 * @returns the exit status: 0, or 1 for a refused call (thrown as RemoteCallError).
 */
export async function runInteractions(config: Config, args: string[], flags: InteractionsFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [actionName, ...rest] = args;
  const action = checkAction(actionName, rest, flags as Record<string, unknown>);
  // Build the request before connecting: a bad flag is a usage error even with no server running.
  const call = prepare(action, rest, flags);
  const target = await remoteTarget(config, flags, env, KEY_HINT);
  const channel = openChannel(target);
  try {
    return await call(createInteractionClient(channel, target.apiKey));
  } catch (error) {
    if (error instanceof ClientError) throw new RemoteCallError(explainCallError(error) + hint(action, error));
    throw error;
  } finally {
    channel.close();
  }
}

function prepare(action: InteractionsAction, rest: string[], flags: InteractionsFlags): (client: InteractionClient) => Promise<number> {
  const out = (text: string) => process.stdout.write(text);
  const json = flags.json === true;
  switch (action) {
    case "list": {
      const request = listRequest(flags);
      return async (client) => {
        const page = await client.listInteractions(request);
        if (json) {
          const token = page.nextPageToken ? { nextPageToken: page.nextPageToken } : {};
          out(`${JSON.stringify({ interactions: page.interactions.map((i) => toJson(InteractionSchema, i)), ...token })}\n`);
        } else {
          out(interactionsTable(page.interactions));
          if (page.nextPageToken) process.stderr.write(`more: --page-token ${page.nextPageToken}\n`);
        }
        return 0;
      };
    }
    case "show": {
      const request = showRequest(rest[0]!, flags);
      return async (client) => {
        const found = await client.getInteraction(request);
        out(json ? `${JSON.stringify(toJson(GetInteractionResponseSchema, found))}\n` : interactionText(found.interaction!, found.events));
        return 0;
      };
    }
    case "metrics": {
      const request = metricsRequest(flags);
      return async (client) => {
        const metrics = await client.getPerformanceMetrics(request);
        out(json ? `${JSON.stringify(toJson(GetPerformanceMetricsResponseSchema, metrics))}\n` : metricsText(metrics));
        return 0;
      };
    }
    case "tail": {
      const request = tailRequest(flags);
      return (client) => tailUntilInterrupted(client, request, json);
    }
  }
}

/** Runs the tail until Ctrl-C (or SIGTERM, or the reader of a pipe going away). */
async function tailUntilInterrupted(client: InteractionClient, request: ReturnType<typeof tailRequest>, json: boolean): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  // `tail | head` closes the pipe: stop quietly rather than die of EPIPE.
  const closed = (error: NodeJS.ErrnoException) => (error.code === "EPIPE" ? stop() : undefined);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  process.stdout.on("error", closed);
  try {
    if (!json) process.stderr.write("tailing interaction events (Ctrl-C to stop); columns: occurred_at mcp interaction kind detail\n");
    const output = { out: (text: string) => void process.stdout.write(text), err: (text: string) => void process.stderr.write(text) };
    return await tail(client, request, { json, signal: controller.signal, output });
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    process.stdout.off("error", closed);
  }
}

/** What to do about a refusal, where the status and details alone do not say it. */
function hint(action: InteractionsAction, error: ClientError): string {
  if (error.code === Status.FAILED_PRECONDITION && action === "show") return " (pass --mcp-id <id>)";
  if (error.code === Status.PERMISSION_DENIED) {
    return action === "metrics" ? " (metrics needs a workflow, operator or admin key)" : ` (interactions ${action} needs an operator or admin key)`;
  }
  return "";
}
