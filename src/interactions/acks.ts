/**
 * Turning write outcomes into acks, shared by the stream and ReportInteractions.
 */
import { create } from "@bufbuild/protobuf";
import { EventMetadataSchema, type EventMetadata, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import type { IngestCounters } from "./counters.js";
import type { WriteOutcome } from "./writer-contract.js";

/** One event's ack, as sent in EventAcks / ReportInteractionsResponse. */
export interface Ack {
  seq: bigint;
  eventId: string;
  status: AckStatus;
  reason: string;
}

/** The ack for a committed outcome; counts it too. */
export function ackFor(event: InteractionEvent, outcome: WriteOutcome, counters: IngestCounters): Ack {
  switch (outcome.status) {
    case "stored":
      counters.stored++;
      return { seq: event.seq, eventId: event.eventId, status: AckStatus.STORED, reason: "" };
    case "duplicate":
      counters.duplicates++;
      return { seq: event.seq, eventId: event.eventId, status: AckStatus.DUPLICATE, reason: "" };
    case "refused":
      counters.rejected++;
      return { seq: event.seq, eventId: event.eventId, status: AckStatus.REJECTED, reason: outcome.reason };
  }
}

/** The ack for an event that failed validation; counts it too. */
export function rejectionFor(event: InteractionEvent, reason: string, counters: IngestCounters): Ack {
  counters.rejected++;
  return { seq: event.seq, eventId: event.eventId, status: AckStatus.REJECTED, reason };
}

/**
 * Fills the event's empty metadata fields from the stream's (or request's) defaults.
 *
 * @returns whether the event changed (then its received encoding no longer matches it).
 */
export function applyMetadataDefaults(event: InteractionEvent, defaults: EventMetadata | undefined): boolean {
  if (!defaults) return false;
  const before = event.metadata;
  const metadata = before ?? create(EventMetadataSchema);
  const changed =
    (!metadata.mcpType && !!defaults.mcpType) ||
    (!metadata.mcpVersion && !!defaults.mcpVersion) ||
    (!metadata.environment && !!defaults.environment) ||
    (!metadata.region && !!defaults.region);
  if (!changed) return false;
  metadata.mcpType ||= defaults.mcpType;
  metadata.mcpVersion ||= defaults.mcpVersion;
  metadata.environment ||= defaults.environment;
  metadata.region ||= defaults.region;
  event.metadata = metadata;
  return true;
}
