/**
 * ReportInteractions: the unary fallback. Same validation, dedupe and commit-before-answer as the
 * stream, for clients that cannot hold one.
 */
import type { EventMetadata, InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import type { IngestCounters } from "./counters.js";
import { ackFor, applyMetadataDefaults, rejectionFor, type Ack } from "./acks.js";
import type { StreamCaller } from "./ingest-session.js";
import type { IngestLimits } from "./limits.js";
import { IngestError } from "./stream-end.js";
import { MCP_ID_PATTERN } from "../mcp-id.js";
import { checkEvent, type EventPolicy } from "./validate.js";
import { DatabaseUnavailableError, type EventWriter } from "./writer-contract.js";

/** One per event, in request order. */
export type ReportAck = Ack;

/** What reporting needs. */
export interface ReportDeps {
  writer: EventWriter;
  counters: IngestCounters;
  limits: IngestLimits;
  /** The privacy policy, applied to every valid event before it is handed to the writer. */
  privacy: EventPolicy | undefined;
  touch: (mcpId: string) => void;
}

/**
 * Stores a batch of events and answers one ack per event, after commit.
 *
 * @throws IngestError: invalid_argument (events empty or too many; mcp_id missing for non-mcp
 *   keys), permission_denied (another MCP's id), unavailable (writer full or database down).
 */
export async function reportEvents(
  deps: ReportDeps,
  caller: StreamCaller,
  request: { mcpId: string; events: InteractionEvent[]; metadata: EventMetadata | undefined },
): Promise<ReportAck[]> {
  const { limits, counters, writer } = deps;
  const mcpId = resolveMcpId(caller, request.mcpId);
  if (request.events.length === 0) throw new IngestError("invalid_argument", "events: at least one event is required");
  if (request.events.length > limits.maxReportEvents) {
    throw new IngestError("invalid_argument", `events: ${request.events.length} events, over the limit of ${limits.maxReportEvents} per call`);
  }
  if (!writer.hasCapacity()) {
    throw new IngestError("unavailable", "the coordinator's write queue is full; retry shortly", limits.reconnectAfterMs);
  }
  counters.received += request.events.length;
  deps.touch(mcpId);
  const now = Date.now();
  const acks: (ReportAck | Promise<ReportAck>)[] = request.events.map((event) => {
    applyMetadataDefaults(event, request.metadata);
    const checked = checkEvent(event, limits, now, undefined, deps.privacy);
    if (!checked.ok) return rejectionFor(event, checked.reason, counters);
    const [outcome] = writer.submit([{ mcpId, event, streamId: null, payload: checked.payload }]);
    return outcome!.then((result) => ackFor(event, result, counters));
  });
  writer.kick();
  try {
    return await Promise.all(acks);
  } catch (error) {
    if (error instanceof DatabaseUnavailableError) {
      throw new IngestError("unavailable", `${error.message}; nothing was acked, retry the whole batch`, limits.reconnectAfterMs);
    }
    throw error;
  }
}

function resolveMcpId(caller: StreamCaller, requested: string): string {
  if (caller.role === "mcp") {
    if (requested !== "" && requested !== caller.mcpId) {
      throw new IngestError("permission_denied", `mcp_id "${requested}" is not this key's MCP ("${caller.mcpId}")`);
    }
    return caller.mcpId!;
  }
  if (!MCP_ID_PATTERN.test(requested)) {
    throw new IngestError("invalid_argument", "mcp_id: required with a non-mcp key; 1-128 characters of [A-Za-z0-9._:-]");
  }
  return requested;
}
