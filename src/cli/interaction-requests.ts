/**
 * The `interactions` command's flags turned into InteractionService requests. Everything is
 * checked here, before any connection is made, so a mistyped flag is a usage error (exit 2)
 * naming the flag, never a round trip.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionStatus } from "../../gen/coordinator/v1/interaction_pb.js";
import type {
  GetInteractionRequestSchema,
  ListInteractionsRequestSchema,
  WatchInteractionsRequestSchema,
} from "../../gen/coordinator/v1/interaction_query_pb.js";
import { MetricsWindow, type GetPerformanceMetricsRequestSchema } from "../../gen/coordinator/v1/performance_metrics_pb.js";
import { configArgOptions } from "../config/load.js";
import { pointInTime, positiveInteger } from "./flag-values.js";
import type { RemoteFlags } from "./remote.js";
import { UsageError } from "./usage-error.js";

/** The parsed flags the interactions command reads. */
export interface InteractionsFlags extends RemoteFlags {
  json?: boolean | undefined;
  "mcp-id"?: string | undefined;
  status?: string[] | undefined;
  since?: string | undefined;
  until?: string | undefined;
  "request-type"?: string | undefined;
  success?: string | undefined;
  session?: string | undefined;
  limit?: string | undefined;
  "page-token"?: string | undefined;
  window?: string | undefined;
  interaction?: string | undefined;
  kind?: string[] | undefined;
}

/** The flags each action takes besides the connection flags and --json. */
const ACTION_FLAGS = {
  list: ["mcp-id", "status", "since", "until", "request-type", "success", "session", "limit", "page-token"],
  show: ["mcp-id"],
  metrics: ["mcp-id", "window", "since", "until"],
  tail: ["mcp-id", "interaction", "kind"],
} as const;

/** list, show, metrics or tail. */
export type InteractionsAction = keyof typeof ACTION_FLAGS;

const COMMON_FLAGS = ["address", "api-key", "tls", "tls-ca", "json"];

/**
 * Checks the action, its positionals and that no flag of another command was given (parseArgs
 * knows every command's flags, so `interactions show --status failed` would otherwise be ignored
 * silently).
 */
export function checkAction(action: string | undefined, rest: readonly string[], flags: Record<string, unknown>): InteractionsAction {
  const actions = Object.keys(ACTION_FLAGS);
  if (!action || !actions.includes(action)) throw new UsageError(`interactions needs list, show, metrics or tail${action ? `; got "${action}"` : ""}`);
  const known = action as InteractionsAction;
  const allowed = new Set<string>([...COMMON_FLAGS, ...ACTION_FLAGS[known], ...Object.keys(configArgOptions())]);
  const foreign = Object.keys(flags).filter((name) => flags[name] !== undefined && !allowed.has(name));
  if (foreign.length) {
    throw new UsageError(`interactions ${known} does not take ${foreign.map((f) => `--${f}`).join(", ")} (it takes ${ACTION_FLAGS[known].map((f) => `--${f}`).join(", ")})`);
  }
  const wanted = known === "show" ? 1 : 0;
  if (rest.length !== wanted) {
    throw new UsageError(known === "show" ? "interactions show takes exactly one interaction id" : `interactions ${known} takes no arguments; got "${rest.join(" ")}"`);
  }
  return known;
}

/** ListInteractions from --mcp-id, --status, --since, --until, --request-type, --success, --session, --limit, --page-token. */
export function listRequest(flags: InteractionsFlags, now = Date.now()): MessageInitShape<typeof ListInteractionsRequestSchema> {
  return {
    mcpId: flags["mcp-id"] ?? "",
    status: interactionStatus(flags.status),
    timeRange: timeRange(flags, now),
    requestType: flags["request-type"] ?? "",
    success: flags.success === undefined ? undefined : booleanFlag("--success", flags.success),
    sessionId: flags.session ?? "",
    pageSize: flags.limit === undefined ? 0 : positiveInteger("--limit", flags.limit),
    pageToken: flags["page-token"] ?? "",
  };
}

/** GetInteraction for `show <id> [--mcp-id <id>]`. */
export function showRequest(id: string, flags: InteractionsFlags): MessageInitShape<typeof GetInteractionRequestSchema> {
  if (!id.trim()) throw new UsageError("interactions show needs a non-empty interaction id");
  return { interactionId: id, mcpId: flags["mcp-id"] ?? "" };
}

const WINDOWS: Record<string, MetricsWindow> = {
  "1h": MetricsWindow.LAST_HOUR,
  "24h": MetricsWindow.LAST_24_HOURS,
  "7d": MetricsWindow.LAST_7_DAYS,
  "30d": MetricsWindow.LAST_30_DAYS,
};

/** GetPerformanceMetrics over --window (default 24h) or --since [--until] (default: now). */
export function metricsRequest(flags: InteractionsFlags, now = Date.now()): MessageInitShape<typeof GetPerformanceMetricsRequestSchema> {
  const mcpId = flags["mcp-id"] ?? "";
  if (flags.window !== undefined && (flags.since !== undefined || flags.until !== undefined)) {
    throw new UsageError("interactions metrics takes --window or --since/--until, not both");
  }
  if (flags.since === undefined) {
    if (flags.until !== undefined) throw new UsageError("--until needs --since for interactions metrics (or use --window)");
    if (flags.window === undefined) return { mcpId };
    const window = WINDOWS[flags.window.trim().toLowerCase()];
    if (window === undefined) throw new UsageError(`--window must be one of ${Object.keys(WINDOWS).join(", ")}; got "${flags.window}"`);
    return { mcpId, period: { case: "window", value: window } };
  }
  const range = timeRange({ since: flags.since, until: flags.until ?? new Date(now).toISOString() }, now);
  return { mcpId, period: { case: "timeRange", value: range! } };
}

const KINDS: Record<string, EventKind> = {
  started: EventKind.STARTED,
  progress: EventKind.PROGRESS,
  completed: EventKind.COMPLETED,
  failed: EventKind.FAILED,
};

/** WatchInteractions from --mcp-id, --interaction and --kind (comma-separated or repeated). */
export function tailRequest(flags: InteractionsFlags): MessageInitShape<typeof WatchInteractionsRequestSchema> {
  const kinds = (flags.kind ?? []).flatMap((v) => v.split(",")).map((v) => {
    const kind = KINDS[v.trim().toLowerCase()];
    if (kind === undefined) throw new UsageError(`--kind must be one or more of ${Object.keys(KINDS).join(", ")}; got "${v}"`);
    return kind;
  });
  return { mcpId: flags["mcp-id"] ?? "", interactionId: flags.interaction ?? "", kinds: [...new Set(kinds)] };
}

const STATUSES: Record<string, InteractionStatus> = {
  started: InteractionStatus.STARTED,
  in_progress: InteractionStatus.IN_PROGRESS,
  "in-progress": InteractionStatus.IN_PROGRESS,
  completed: InteractionStatus.COMPLETED,
  failed: InteractionStatus.FAILED,
};

function interactionStatus(values: string[] | undefined): InteractionStatus {
  if (!values?.length) return InteractionStatus.UNSPECIFIED;
  // The request filters on one status; `--status` is repeatable only for `decisions`.
  if (values.length > 1 || values[0]!.includes(",")) throw new UsageError(`--status takes one status for interactions list; got "${values.join(",")}"`);
  const status = STATUSES[values[0]!.trim().toLowerCase()];
  if (status === undefined) throw new UsageError(`--status must be one of started, in_progress, completed, failed; got "${values[0]}"`);
  return status;
}

function booleanFlag(flag: string, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (value === "true") return true;
  if (value === "false") return false;
  throw new UsageError(`${flag} must be true or false; got "${raw}"`);
}

function timeRange(flags: Pick<InteractionsFlags, "since" | "until">, now: number) {
  const since = flags.since === undefined ? undefined : pointInTime("--since", flags.since, "ago", now);
  const until = flags.until === undefined ? undefined : pointInTime("--until", flags.until, "ago", now);
  if (!since && !until) return undefined;
  if (since && until && since.getTime() >= until.getTime()) {
    throw new UsageError(`--since must be before --until; got ${since.toISOString()} and ${until.toISOString()}`);
  }
  return { startTime: since && timestampFromDate(since), endTime: until && timestampFromDate(until) };
}
