/**
 * What each event contributes to its interaction's summary row.
 *
 * Events of one interaction may arrive in any order and in any grouping (a completion before its
 * start after a resend, spread over batches and replicas). Every summary column is therefore
 * combined with a commutative, associative rule (min, max, sum, or "the winner under a total
 * order"), applied in SQL (batch-statement.ts): first across the new events of a batch, then
 * between that result and the stored row. Whatever the arrival order, the row comes out the same.
 *
 * This module only extracts, per event, the values those rules need from the event's typed detail.
 */
import { toBinary } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { EventKind, ProgressInfoSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";

/** The summary-relevant values of one event (null where the kind does not carry them). */
export interface Contribution {
  requestType: string | null;
  userId: string | null;
  /** coordinator.v1.ProgressInfo, encoded. */
  progress: Uint8Array | null;
  success: boolean | null;
  errorCode: string | null;
  errorMessage: string | null;
  reportedProcessingMs: number | null;
}

const NONE: Contribution = {
  requestType: null,
  userId: null,
  progress: null,
  success: null,
  errorCode: null,
  errorMessage: null,
  reportedProcessingMs: null,
};

/** Extracts an event's contribution. */
export function contributionOf(event: InteractionEvent): Contribution {
  const detail = event.detail;
  switch (event.kind) {
    case EventKind.STARTED: {
      const request = detail.case === "request" ? detail.value : undefined;
      return { ...NONE, requestType: clean(request?.requestType ?? ""), userId: clean(request?.userId ?? "") };
    }
    case EventKind.PROGRESS:
      return { ...NONE, progress: detail.case === "progress" ? toBinary(ProgressInfoSchema, detail.value) : new Uint8Array() };
    case EventKind.COMPLETED: {
      const result = detail.case === "result" ? detail.value : undefined;
      return {
        ...NONE,
        // A completion is a success unless the MCP said otherwise.
        success: result?.success ?? true,
        errorCode: clean(result?.errorCode ?? ""),
        errorMessage: clean(result?.errorMessage ?? ""),
        reportedProcessingMs: result?.processingTime ? durationMs(result.processingTime) : null,
      };
    }
    case EventKind.FAILED: {
      const error = detail.case === "error" ? detail.value : undefined;
      return {
        ...NONE,
        success: false,
        errorCode: clean(error?.errorCode ?? ""),
        errorMessage: clean(error?.message ?? ""),
        reportedProcessingMs: error?.processingTime ? durationMs(error.processingTime) : null,
      };
    }
    default:
      return NONE;
  }
}

/** Postgres text cannot hold NUL; summary columns drop it rather than fail the batch. */
function clean(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "") : text;
}
