/**
 * What a WatchInteractions stream wants: its request checked once, then matched against every
 * announced event reference.
 */
import { EventKind } from "../../../gen/coordinator/v1/interaction_event_pb.js";
import type { WatchInteractionsRequest } from "../../../gen/coordinator/v1/interaction_query_pb.js";
import { MCP_ID_PATTERN } from "../../registry/validation.js";
import { invalidField } from "../read/query-error.js";

/** A checked filter; empty fields match anything. */
export interface WatchFilter {
  mcpId: string;
  interactionId: string;
  /** Empty: every kind. */
  kinds: ReadonlySet<number>;
}

/** An interaction id as ingest admits it: no control characters (see validate.ts). */
const ID_TEXT = /^[^\u0000-\u001f\u007f]{1,1024}$/;
const KINDS = new Set([EventKind.STARTED, EventKind.PROGRESS, EventKind.COMPLETED, EventKind.FAILED]);

/**
 * Checks a request.
 *
 * @throws QueryError invalid_argument naming "mcp_id", "interaction_id" or "kinds[i]".
 */
export function watchFilter(request: WatchInteractionsRequest): WatchFilter {
  if (request.mcpId && !MCP_ID_PATTERN.test(request.mcpId)) {
    throw invalidField("mcp_id", "is not an MCP id (1 to 128 of A-Z a-z 0-9 . _ : -)");
  }
  if (request.interactionId && !ID_TEXT.test(request.interactionId)) {
    throw invalidField("interaction_id", "contains control characters or is longer than 1,024 characters");
  }
  request.kinds.forEach((kind, i) => {
    if (!KINDS.has(kind)) throw invalidField(`kinds[${i}]`, `${kind} is not an event kind (EVENT_KIND_STARTED, _PROGRESS, _COMPLETED or _FAILED)`);
  });
  return { mcpId: request.mcpId, interactionId: request.interactionId, kinds: new Set(request.kinds) };
}

/** Whether an event with this key and kind is one the filter wants. */
export function wants(filter: WatchFilter, mcpId: string, interactionId: string, kind: number): boolean {
  return (
    (filter.mcpId === "" || filter.mcpId === mcpId) &&
    (filter.interactionId === "" || filter.interactionId === interactionId) &&
    (filter.kinds.size === 0 || filter.kinds.has(kind))
  );
}
