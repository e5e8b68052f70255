/**
 * An interaction's summary, folded from its events with order-independent rules.
 *
 * Events of one interaction may arrive in any order and in any grouping (a completion before its
 * start after a resend, spread over batches and replicas). Every field is therefore combined with
 * a commutative, associative rule (min, max, sum, or "the winner under a total order"), and the
 * same rules run twice: here, to fold the new events of one batch into one delta per interaction,
 * and in SQL (writer-queries.ts) to merge that delta into the stored row. Whatever the arrival
 * order, the stored row comes out the same.
 *
 * Ties are broken by event_id compared as UTF-8 bytes, which is what Postgres's "C" collation
 * does, so TypeScript and SQL pick the same winner.
 */
import { EventKind, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { toBinary } from "@bufbuild/protobuf";
import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { ProgressInfoSchema } from "../../gen/coordinator/v1/interaction_event_pb.js";

/** What a batch contributes to one interaction's summary row. */
export interface SummaryDelta {
  mcpId: string;
  interactionId: string;
  /** Greatest session_id of any event (C order). */
  anySessionId: string;
  firstEventAt: number;
  lastEventAt: number;
  firstSeenAt: number;
  lastSeenAt: number;
  eventCount: number;
  /** The earliest STARTED event, by (occurred_at, event_id). */
  started: { at: number; eventId: string; sessionId: string; requestType: string; userId: string } | undefined;
  progressCount: number;
  /** The latest PROGRESS event, by (occurred_at, event_id). */
  lastProgress: { at: number; eventId: string; progress: Uint8Array } | undefined;
  /** The deciding terminal event: highest (kind, occurred_at, event_id); FAILED(4) beats COMPLETED(3). */
  terminal:
    | {
        kind: EventKind.COMPLETED | EventKind.FAILED;
        at: number;
        eventId: string;
        success: boolean;
        errorCode: string;
        errorMessage: string;
        reportedProcessingMs: number | null;
      }
    | undefined;
}

/** An event newly stored by a batch, with when the coordinator received it. */
export interface StoredEventInput {
  mcpId: string;
  event: InteractionEvent;
  receivedAt: number;
}

/**
 * Folds events into one delta per (mcp_id, interaction_id), sorted by that key (so the upsert
 * takes row locks in a fixed order and concurrent batches cannot deadlock).
 */
export function foldSummaries(events: readonly StoredEventInput[]): SummaryDelta[] {
  const byKey = new Map<string, SummaryDelta>();
  for (const { mcpId, event, receivedAt } of events) {
    const key = `${mcpId}\u0000${event.interactionId}`;
    const delta = deltaOf(mcpId, event, receivedAt);
    const existing = byKey.get(key);
    byKey.set(key, existing ? mergeDeltas(existing, delta) : delta);
  }
  return [...byKey.values()].sort((a, b) => compareC(a.mcpId, b.mcpId) || compareC(a.interactionId, b.interactionId));
}

/** The delta of a single event. */
export function deltaOf(mcpId: string, event: InteractionEvent, receivedAt: number): SummaryDelta {
  const at = event.occurredAt ? timestampMs(event.occurredAt) : receivedAt;
  const delta: SummaryDelta = {
    mcpId,
    interactionId: event.interactionId,
    anySessionId: event.sessionId,
    firstEventAt: at,
    lastEventAt: at,
    firstSeenAt: receivedAt,
    lastSeenAt: receivedAt,
    eventCount: 1,
    started: undefined,
    progressCount: 0,
    lastProgress: undefined,
    terminal: undefined,
  };
  const detail = event.detail;
  switch (event.kind) {
    case EventKind.STARTED: {
      const request = detail.case === "request" ? detail.value : undefined;
      delta.started = {
        at,
        eventId: event.eventId,
        sessionId: event.sessionId,
        requestType: clean(request?.requestType ?? ""),
        userId: clean(request?.userId ?? ""),
      };
      break;
    }
    case EventKind.PROGRESS:
      delta.progressCount = 1;
      delta.lastProgress = {
        at,
        eventId: event.eventId,
        progress: detail.case === "progress" ? toBinary(ProgressInfoSchema, detail.value) : new Uint8Array(),
      };
      break;
    case EventKind.COMPLETED: {
      const result = detail.case === "result" ? detail.value : undefined;
      delta.terminal = {
        kind: EventKind.COMPLETED,
        at,
        eventId: event.eventId,
        // A completion is a success unless the MCP said otherwise.
        success: result?.success ?? true,
        errorCode: clean(result?.errorCode ?? ""),
        errorMessage: clean(result?.errorMessage ?? ""),
        reportedProcessingMs: result?.processingTime ? durationMs(result.processingTime) : null,
      };
      break;
    }
    case EventKind.FAILED: {
      const error = detail.case === "error" ? detail.value : undefined;
      delta.terminal = {
        kind: EventKind.FAILED,
        at,
        eventId: event.eventId,
        success: false,
        errorCode: clean(error?.errorCode ?? ""),
        errorMessage: clean(error?.message ?? ""),
        reportedProcessingMs: error?.processingTime ? durationMs(error.processingTime) : null,
      };
      break;
    }
    default:
      break;
  }
  return delta;
}

/** Combines two deltas of the same interaction; commutative and associative. */
export function mergeDeltas(a: SummaryDelta, b: SummaryDelta): SummaryDelta {
  return {
    mcpId: a.mcpId,
    interactionId: a.interactionId,
    anySessionId: compareC(a.anySessionId, b.anySessionId) >= 0 ? a.anySessionId : b.anySessionId,
    firstEventAt: Math.min(a.firstEventAt, b.firstEventAt),
    lastEventAt: Math.max(a.lastEventAt, b.lastEventAt),
    firstSeenAt: Math.min(a.firstSeenAt, b.firstSeenAt),
    lastSeenAt: Math.max(a.lastSeenAt, b.lastSeenAt),
    eventCount: a.eventCount + b.eventCount,
    started: pick(a.started, b.started, (x, y) => x.at - y.at || compareC(x.eventId, y.eventId), "min"),
    progressCount: a.progressCount + b.progressCount,
    lastProgress: pick(a.lastProgress, b.lastProgress, (x, y) => x.at - y.at || compareC(x.eventId, y.eventId), "max"),
    terminal: pick(a.terminal, b.terminal, (x, y) => x.kind - y.kind || x.at - y.at || compareC(x.eventId, y.eventId), "max"),
  };
}

function pick<T>(a: T | undefined, b: T | undefined, compare: (x: T, y: T) => number, want: "min" | "max"): T | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const order = compare(a, b);
  return want === "min" ? (order <= 0 ? a : b) : order >= 0 ? a : b;
}

/** Compares strings as their UTF-8 bytes: Postgres's "C" collation order. */
export function compareC(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Postgres text cannot hold NUL; summary columns drop it rather than fail the batch. */
function clean(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "") : text;
}
