/**
 * Rows of the read side as protobuf messages.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { InteractionEventSchema, ProgressInfoSchema } from "../../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionSchema, StoredEventSchema, type Interaction, type StoredEvent } from "../../../gen/coordinator/v1/interaction_pb.js";
import type { EventRow, InteractionRow } from "./interaction-queries.js";

/** An interactions row as the Interaction message. */
export function toInteraction(row: InteractionRow): Interaction {
  return create(InteractionSchema, {
    interactionId: row.interaction_id,
    mcpId: row.mcp_id,
    sessionId: row.session_id,
    status: row.status,
    requestType: row.request_type,
    userId: row.user_id,
    startedAt: row.started_at ? timestampFromDate(row.started_at) : undefined,
    endedAt: row.ended_at ? timestampFromDate(row.ended_at) : undefined,
    firstEventAt: timestampFromDate(row.first_event_at),
    lastEventAt: timestampFromDate(row.last_event_at),
    firstSeenAt: timestampFromDate(row.first_seen_at),
    processingTime: row.processing_ms === null ? undefined : durationFromMs(Math.max(0, Math.round(row.processing_ms))),
    success: row.success ?? undefined,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    progressCount: row.progress_count,
    lastProgress: row.last_progress ? fromBinary(ProgressInfoSchema, row.last_progress) : undefined,
    eventCount: row.event_count,
  });
}

/**
 * A stored event as the StoredEvent message. received_at is set by the storing transaction
 * (the writer inserts now()), so it is also the time the event was stored.
 */
export function toStoredEvent(row: EventRow, mcpId: string): StoredEvent {
  const at = timestampFromDate(row.received_at);
  return create(StoredEventSchema, {
    event: fromBinary(InteractionEventSchema, row.payload),
    mcpId,
    receivedAt: at,
    storedAt: at,
    coordinatorVersion: row.coordinator_version,
  });
}
