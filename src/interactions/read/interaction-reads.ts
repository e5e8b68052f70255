/**
 * GetInteraction and ListInteractions: checked requests in, messages out.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Pool } from "pg";
import type { Interaction, StoredEvent } from "../../../gen/coordinator/v1/interaction_pb.js";
import type { GetInteractionRequest, ListInteractionsRequest } from "../../../gen/coordinator/v1/interaction_query_pb.js";
import type { TimeRange } from "../../../gen/coordinator/v1/time_range_pb.js";
import { MCP_ID_PATTERN } from "../../registry/validation.js";
import { pageSizeOf } from "../../store/page-size.js";
import { decodeKeysetToken, encodeKeysetToken, POSTGRES_TIMESTAMPTZ } from "../../store/keyset-token.js";
import { findInteractions, listInteractionEvents, listInteractionPage, type InteractionFilter, type InteractionPosition } from "./interaction-queries.js";
import { toInteraction, toStoredEvent } from "./interaction-mapping.js";
import { invalidField, QueryError } from "./query-error.js";
import type { Privacy } from "../privacy/privacy.js";

/** An interaction id as ingest admits it: no control characters (see validate.ts). */
const ID_TEXT = /^[^\u0000-\u001f\u007f]{1,1024}$/;
/** How many MCPs a refusal for an ambiguous interaction_id names. */
const NAMED_MCPS = 5;

/** Who reads, as far as protected fields go: stored values are revealed to this reader. */
export interface ReaderView {
  privacy: Privacy;
  /** Whether the reader may see encrypted fields in clear (mayDecrypt of its role). */
  canDecrypt: boolean;
}

/**
 * One interaction: its summary and every event in order, revealed to `view`.
 *
 * @returns also whether any encrypted value was returned decrypted (for the access audit).
 * @throws QueryError invalid_argument "interaction_id"; not_found; failed_precondition when
 *   several MCPs used the id and mcp_id was not given.
 */
export async function getInteraction(
  pool: Pool,
  request: GetInteractionRequest,
  view: ReaderView,
): Promise<{ interaction: Interaction; events: StoredEvent[]; decrypted: boolean }> {
  if (!request.interactionId) throw invalidField("interaction_id", "is required");
  const rows = await findInteractions(pool, request.interactionId, request.mcpId, NAMED_MCPS + 1);
  if (rows.length === 0) {
    const of = request.mcpId ? ` of MCP ${request.mcpId}` : "";
    throw new QueryError("not_found", `no interaction ${request.interactionId}${of} (never reported, or removed by retention)`);
  }
  if (rows.length > 1) {
    const names = rows.slice(0, NAMED_MCPS).map((r) => r.mcp_id);
    const more = rows.length > NAMED_MCPS ? ", ..." : "";
    throw new QueryError("failed_precondition", `several MCPs used interaction_id ${request.interactionId} (${names.join(", ")}${more}); set mcp_id`);
  }
  const row = rows[0]!;
  const eventRows = await listInteractionEvents(pool, row.mcp_id, row.interaction_id);
  const interaction = toInteraction(row);
  const events = eventRows.map((event) => toStoredEvent(event, row.mcp_id));
  let decrypted = view.privacy.revealSummary(interaction, view.canDecrypt);
  for (const stored of events) decrypted += view.privacy.revealFields(stored.event!, view.canDecrypt);
  return { interaction, events, decrypted: decrypted > 0 };
}

/**
 * One page of interaction summaries, newest first, revealed to `view`.
 *
 * @returns also whether any encrypted value was returned decrypted (for the access audit).
 * @throws QueryError invalid_argument naming "page_size", "time_range", "status" or "page_token".
 */
export async function listInteractions(
  pool: Pool,
  request: ListInteractionsRequest,
  view: ReaderView,
): Promise<{ interactions: Interaction[]; nextPageToken: string; decrypted: boolean }> {
  const size = pageSizeOf(request.pageSize, (problem) => invalidField("page_size", problem));
  if (request.status < 0 || request.status > 4) throw invalidField("status", `unknown status ${request.status}`);
  const filter: InteractionFilter = {
    mcpId: request.mcpId,
    status: request.status,
    ...timeBounds(request.timeRange),
    requestType: request.requestType,
    success: request.success,
    sessionId: request.sessionId,
  };
  const tokenFilters = [filter.mcpId, filter.status, filter.from?.toISOString() ?? "", filter.to?.toISOString() ?? "", filter.requestType, filter.success ?? null, filter.sessionId];
  const after = request.pageToken ? readPosition(request.pageToken, tokenFilters) : undefined;
  const rows = await listInteractionPage(pool, filter, after, size + 1);
  const page = rows.slice(0, size);
  const last = page.at(-1);
  const nextPageToken = rows.length > size && last ? encodeKeysetToken([last.first_seen_text, last.mcp_id, last.interaction_id], tokenFilters) : "";
  const interactions = page.map(toInteraction);
  let decrypted = 0;
  for (const interaction of interactions) decrypted += view.privacy.revealSummary(interaction, view.canDecrypt);
  return { interactions, nextPageToken, decrypted: decrypted > 0 };
}

/** A TimeRange as bounds. @throws QueryError invalid_argument "time_range". */
export function timeBounds(range: TimeRange | undefined): { from: Date | undefined; to: Date | undefined } {
  const from = range?.startTime ? timestampDate(range.startTime) : undefined;
  const to = range?.endTime ? timestampDate(range.endTime) : undefined;
  if (from && to && to.getTime() <= from.getTime()) {
    throw invalidField("time_range", `end_time ${to.toISOString()} is not after start_time ${from.toISOString()}`);
  }
  return { from, to };
}

function readPosition(raw: string, filters: unknown): InteractionPosition {
  const position = decodeKeysetToken(raw, filters, [POSTGRES_TIMESTAMPTZ, MCP_ID_PATTERN, ID_TEXT]);
  if (typeof position === "string") throw invalidField("page_token", position);
  return { firstSeenAt: position[0]!, mcpId: position[1]!, interactionId: position[2]! };
}
