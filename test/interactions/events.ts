/**
 * Builders for interaction events in tests.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import { EventKind, InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";

/** A minimal valid event of `kind` for `interactionId`, occurring at `atMs`. */
export function event(kind: EventKind, interactionId: string, atMs: number, extra: Partial<{ eventId: string; sessionId: string }> = {}): InteractionEvent {
  const base = {
    eventId: extra.eventId ?? randomUUID(),
    interactionId,
    sessionId: extra.sessionId ?? "",
    kind,
    occurredAt: timestampFromMs(atMs),
  };
  switch (kind) {
    case EventKind.STARTED:
      return create(InteractionEventSchema, { ...base, detail: { case: "request", value: { requestType: "search", userId: "u1" } } });
    case EventKind.PROGRESS:
      return create(InteractionEventSchema, { ...base, detail: { case: "progress", value: { percent: atMs % 100, step: `step-${atMs}` } } });
    case EventKind.COMPLETED:
      return create(InteractionEventSchema, {
        ...base,
        detail: { case: "result", value: { success: true, processingTime: durationFromMs(1500) } },
      });
    case EventKind.FAILED:
      return create(InteractionEventSchema, { ...base, detail: { case: "error", value: { errorCode: "E42", message: "boom" } } });
    default:
      return create(InteractionEventSchema, base);
  }
}
