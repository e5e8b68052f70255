/**
 * Per-event validation. An invalid event is rejected on its own (ACK_STATUS_REJECTED with the
 * reason returned here); the stream and the other events go on.
 */
import { fromJson, toBinary } from "@bufbuild/protobuf";
import { StructSchema, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  ErrorInfoSchema,
  EventKind,
  InteractionEventSchema,
  ProgressInfoSchema,
  RequestInfoSchema,
  ResultInfoSchema,
  type InteractionEvent,
} from "../../gen/coordinator/v1/interaction_event_pb.js";
import type { IngestLimits } from "./limits.js";
import { spliceChanged } from "./privacy/splice.js";

/** The detail case each kind may carry. */
const DETAIL_FOR_KIND: Record<number, string> = {
  [EventKind.STARTED]: "request",
  [EventKind.PROGRESS]: "progress",
  [EventKind.COMPLETED]: "result",
  [EventKind.FAILED]: "error",
};

/**
 * Checks one event against the contract's rules, except the size limits (see checkEvent).
 *
 * @param now - the coordinator's clock (ms), for the future-timestamp rule.
 * @returns undefined when valid, else a reason naming the field.
 */
export function invalidReason(event: InteractionEvent, limits: IngestLimits, now: number): string | undefined {
  const idProblem =
    checkId("event_id", event.eventId, limits, true) ??
    checkId("interaction_id", event.interactionId, limits, true) ??
    checkId("session_id", event.sessionId, limits, false);
  if (idProblem) return idProblem;
  const expected = DETAIL_FOR_KIND[event.kind];
  if (expected === undefined) {
    return event.kind === EventKind.UNSPECIFIED ? "kind: required (EVENT_KIND_STARTED, _PROGRESS, _COMPLETED or _FAILED)" : `kind: unknown value ${event.kind}`;
  }
  if (!event.occurredAt) return "occurred_at: required";
  const occurredAt = timestampMs(event.occurredAt);
  if (!Number.isFinite(occurredAt)) return "occurred_at: not a valid time";
  if (occurredAt > now + limits.maxClockSkewMs) {
    return `occurred_at: ${new Date(occurredAt).toISOString()} is more than ${limits.maxClockSkewMs / 60_000} minutes in the future`;
  }
  if (event.detail.case !== undefined && event.detail.case !== expected) {
    return `detail: ${event.detail.case} does not match kind ${EventKind[event.kind]} (expected ${expected})`;
  }
  return undefined;
}

/** A valid event and its encoding (stored as is), or why it is invalid. */
export type Checked = { ok: true; payload: Uint8Array } | { ok: false; reason: string };

/** The privacy policy as ingest applies it (see privacy/privacy.ts). */
export interface EventPolicy {
  /** Changes the event in place; returns which parts changed (privacy/splice.ts bits; 0: none). */
  protect(event: InteractionEvent): number;
}

/**
 * Validates an event, applies the privacy policy to it, and encodes it. The size limits apply to
 * detail and attributes separately; both are parts of the whole encoding, so their own sizes are
 * only computed when the whole event is over the limit (rare), and the common case costs one
 * encode, which the writer then stores instead of encoding again.
 *
 * The limits judge the event as the client sent it (what the client can know), and the policy
 * is applied after them: the parts of the event it changed are encoded again (spliceChanged).
 *
 * @param received - the event's encoding as received, when it still matches the event (the
 *   stream passes it to spare the encode).
 * @param policy - the privacy policy; none: the event is stored as sent.
 * @throws IngestError unavailable from the policy, while it cannot hash yet (start-up).
 */
export function checkEvent(event: InteractionEvent, limits: IngestLimits, now: number, received?: Uint8Array, policy?: EventPolicy): Checked {
  const reason = invalidReason(event, limits, now);
  if (reason) return { ok: false, reason };
  // The bytes the event arrived as, when they still describe it, else a fresh encoding.
  const payload = received ?? toBinary(InteractionEventSchema, event);
  if (payload.length > limits.maxPayloadBytes) {
    const detailBytes = detailSize(event);
    if (detailBytes > limits.maxPayloadBytes) {
      return { ok: false, reason: `detail: ${detailBytes} bytes encoded, over the limit of ${limits.maxPayloadBytes}` };
    }
    if (event.attributes) {
      // protobuf-es holds a Struct as a plain JSON object; its wire size is what the limit is about.
      const attributeBytes = toBinary(StructSchema, fromJson(StructSchema, event.attributes)).length;
      if (attributeBytes > limits.maxPayloadBytes) {
        return { ok: false, reason: `attributes: ${attributeBytes} bytes encoded, over the limit of ${limits.maxPayloadBytes}` };
      }
    }
  }
  // Before anything is written: the payload and the summary columns the writer takes from the
  // event then hold the same protected values.
  const changed = policy ? policy.protect(event) : 0;
  return { ok: true, payload: changed ? spliceChanged(payload, event, changed) : payload };
}

function checkId(field: string, value: string, limits: IngestLimits, required: boolean): string | undefined {
  if (value.length === 0) return required ? `${field}: required` : undefined;
  if (value.length > limits.maxIdLength) return `${field}: ${value.length} characters, over the limit of ${limits.maxIdLength}`;
  // Postgres text cannot hold NUL, and control characters in ids only cause grief in logs and URLs.
  if (/[\u0000-\u001f\u007f]/.test(value)) return `${field}: contains control characters`;
  return undefined;
}

function detailSize(event: InteractionEvent): number {
  const detail = event.detail;
  switch (detail.case) {
    case "request":
      return toBinary(RequestInfoSchema, detail.value).length;
    case "progress":
      return toBinary(ProgressInfoSchema, detail.value).length;
    case "result":
      return toBinary(ResultInfoSchema, detail.value).length;
    case "error":
      return toBinary(ErrorInfoSchema, detail.value).length;
    default:
      return 0;
  }
}
