/**
 * Turns the reporter's call arguments into InteractionEvent messages.
 */
import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ErrorInfoSchema,
  EventKind,
  InteractionEventSchema,
  ProgressInfoSchema,
  RequestInfoSchema,
  ResultInfoSchema,
  type EventMetadataSchema,
  type InteractionEvent,
} from "../../gen/coordinator/v1/interaction_event_pb.js";

/** Fields every reporting call accepts besides its kind's detail. */
export interface CommonDetail {
  /** The user session or conversation the interaction belongs to (needed on `started` only). */
  sessionId?: string;
  /** Free-form key/values (tags, trace ids). */
  attributes?: JsonObject;
  /** When it happened; default now. At most 5 minutes in the future, or the coordinator rejects it. */
  occurredAt?: Date;
}

/** Detail of `started`: the request (RequestInfo fields) plus the common fields. */
export type StartedDetail = Omit<MessageInitShape<typeof RequestInfoSchema>, "$typeName"> & CommonDetail;
/** Detail of `progress`: ProgressInfo fields plus the common fields. */
export type ProgressDetail = Omit<MessageInitShape<typeof ProgressInfoSchema>, "$typeName"> & CommonDetail;
/** Detail of `completed`: ResultInfo fields plus the common fields; `processingTimeMs` fills `processingTime`. */
export type CompletedDetail = Omit<MessageInitShape<typeof ResultInfoSchema>, "$typeName"> & CommonDetail & { processingTimeMs?: number };
/** Detail of `failed`: ErrorInfo fields plus the common fields; `processingTimeMs` fills `processingTime`. */
export type FailedDetail = Omit<MessageInitShape<typeof ErrorInfoSchema>, "$typeName"> & CommonDetail & { processingTimeMs?: number };

/** The stack of an Error is kept in ErrorInfo.data up to this many characters. */
const MAX_STACK_CHARS = 4_000;

type Detail =
  | { kind: EventKind.STARTED; detail: StartedDetail | undefined }
  | { kind: EventKind.PROGRESS; detail: ProgressDetail | undefined }
  | { kind: EventKind.COMPLETED; detail: CompletedDetail | undefined }
  | { kind: EventKind.FAILED; detail: FailedDetail | undefined };

/**
 * Builds one event (seq unset: the stream assigns it).
 *
 * @throws when `detail` has values of the wrong type (the reporter catches and counts this).
 */
export function buildEvent(
  eventId: string,
  interactionId: string,
  input: Detail,
  metadata: MessageInitShape<typeof EventMetadataSchema> | undefined,
): InteractionEvent {
  const { sessionId, attributes, occurredAt, processingTimeMs, ...fields } = (input.detail ?? {}) as CompletedDetail;
  const hasFields = Object.keys(fields).length > 0 || processingTimeMs !== undefined;
  // processing time is a field of ResultInfo and ErrorInfo only.
  const timed = input.kind === EventKind.COMPLETED || input.kind === EventKind.FAILED;
  if (timed && processingTimeMs !== undefined && Number.isFinite(processingTimeMs) && processingTimeMs >= 0) {
    (fields as CompletedDetail).processingTime ??= durationFromMs(Math.round(processingTimeMs));
  }
  let detail: InteractionEvent["detail"] = { case: undefined };
  if (hasFields) {
    switch (input.kind) {
      case EventKind.STARTED:
        detail = { case: "request", value: create(RequestInfoSchema, fields as StartedDetail) };
        break;
      case EventKind.PROGRESS:
        detail = { case: "progress", value: create(ProgressInfoSchema, fields as ProgressDetail) };
        break;
      case EventKind.COMPLETED:
        detail = { case: "result", value: create(ResultInfoSchema, fields as CompletedDetail) };
        break;
      case EventKind.FAILED:
        detail = { case: "error", value: create(ErrorInfoSchema, fields as FailedDetail) };
        break;
    }
  }
  return create(InteractionEventSchema, {
    eventId,
    interactionId: String(interactionId),
    sessionId: sessionId ?? "",
    kind: input.kind,
    occurredAt: timestampFromDate(occurredAt instanceof Date ? occurredAt : new Date()),
    detail,
    attributes,
    metadata,
  });
}

/**
 * The ErrorInfo fields for anything thrown: an Error gives its name (error_type), message, a
 * string `code` property (error_code) and its stack (data.stack, truncated); anything else its
 * string form.
 */
export function describeThrown(thrown: unknown): FailedDetail {
  if (thrown instanceof Error) {
    const code = (thrown as { code?: unknown }).code;
    const detail: FailedDetail = { errorType: thrown.name, message: thrown.message };
    if (typeof code === "string" && code) detail.errorCode = code.slice(0, 128);
    if (thrown.stack) detail.data = { stack: thrown.stack.slice(0, MAX_STACK_CHARS) };
    return detail;
  }
  return { errorType: typeof thrown, message: String(thrown) };
}
