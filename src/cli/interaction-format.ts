/**
 * How the interactions command prints interactions and their events for people: the `list`
 * table, the `show` view and the `tail` line. (`--json` prints the responses as protobuf JSON.)
 */
import { durationMs, timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { EventKind, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionStatus, type Interaction, type StoredEvent } from "../../gen/coordinator/v1/interaction_pb.js";
import { table, time } from "./text-table.js";

/** Longest detail shown for one event; the rest is in `--json`. */
const DETAIL_MAX = 100;

/** "started", "in_progress", "completed", "failed". */
export function interactionStatusName(status: InteractionStatus): string {
  return (InteractionStatus[status] ?? String(status)).toLowerCase();
}

/** "started", "progress", "completed", "failed". */
export function eventKindName(kind: EventKind): string {
  return (EventKind[kind] ?? String(kind)).toLowerCase();
}

/** A duration for people: "0.4ms", "230ms", "1.50s", "2m05s", "1h02m"; "-" when unset. */
export function humanDuration(duration: Duration | undefined): string {
  return duration ? humanMs(durationMs(duration)) : "-";
}

/** {@link humanDuration} from milliseconds. */
export function humanMs(ms: number): string {
  if (ms < 10) return `${Number(ms.toFixed(1))}ms`;
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(2)}s`;
  const seconds = Math.round(ms / 1_000);
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/** An event time to the millisecond: events of one interaction are often less than a second apart. */
export function eventTime(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toISOString() : "-";
}

/** The status with what a bare status name hides: an unsuccessful completion, the last progress percent. */
function statusCell(i: Interaction): string {
  const name = interactionStatusName(i.status);
  if (i.status === InteractionStatus.COMPLETED && i.success === false) return `${name} (unsuccessful)`;
  if (i.status === InteractionStatus.IN_PROGRESS && i.lastProgress?.percent) return `${name} ${Math.round(i.lastProgress.percent)}%`;
  return name;
}

function errorCell(i: Interaction): string {
  return i.errorCode || clip(i.errorMessage, 40);
}

/** The `interactions list` table, newest first as the server returns them. */
export function interactionsTable(interactions: readonly Interaction[]): string {
  if (interactions.length === 0) return "no interactions\n";
  return table(
    ["first_seen", "mcp", "interaction", "status", "request_type", "took", "events", "error"],
    interactions.map((i) => [
      time(i.firstSeenAt),
      i.mcpId,
      i.interactionId,
      statusCell(i),
      i.requestType,
      humanDuration(i.processingTime),
      String(i.eventCount),
      errorCell(i),
    ]),
  );
}

/** The `interactions show` view: the summary's fields, then every event in the order they happened. */
export function interactionText(interaction: Interaction, events: readonly StoredEvent[]): string {
  const success = interaction.success === undefined ? "-" : interaction.success ? "yes" : "no";
  const progress = interaction.lastProgress ? progressText(interaction.lastProgress) : "-";
  const rows: [string, string][] = [
    ["interaction_id", interaction.interactionId],
    ["mcp_id", interaction.mcpId],
    ["session_id", interaction.sessionId],
    ["status", interactionStatusName(interaction.status)],
    ["success", success],
    ["request_type", interaction.requestType],
    ["user_id", interaction.userId],
    ["started_at", eventTime(interaction.startedAt)],
    ["ended_at", eventTime(interaction.endedAt)],
    ["processing_time", humanDuration(interaction.processingTime)],
    ["first_event_at", eventTime(interaction.firstEventAt)],
    ["last_event_at", eventTime(interaction.lastEventAt)],
    ["first_seen_at", eventTime(interaction.firstSeenAt)],
    ["error_code", interaction.errorCode],
    ["error_message", interaction.errorMessage],
    ["events", String(interaction.eventCount)],
    ["progress_events", String(interaction.progressCount)],
    ["last_progress", progress],
  ];
  let text = table(["field", "value"], rows);
  text += `\nevents (${events.length}, in the order they happened):\n`;
  text += table(
    ["occurred_at", "kind", "detail"],
    events.map((e) => [eventTime(e.event?.occurredAt), eventKindName(e.event?.kind ?? EventKind.UNSPECIFIED), e.event ? eventDetail(e.event) : ""]),
  );
  return text;
}

/** One line per stored event for `interactions tail`: time, MCP, interaction, kind, detail. */
export function tailLine(stored: StoredEvent): string {
  const event = stored.event;
  const kind = eventKindName(event?.kind ?? EventKind.UNSPECIFIED);
  const detail = event ? eventDetail(event) : "";
  return `${eventTime(event?.occurredAt)}  ${stored.mcpId}  ${event?.interactionId ?? "-"}  ${kind.padEnd(9)}${detail ? `  ${detail}` : ""}\n`;
}

/**
 * What an event says, in a few words: the request type of a start, percent and step of a
 * progress, the outcome and time of a completion, the code and message of a failure.
 */
export function eventDetail(event: InteractionEvent): string {
  const parts: string[] = [];
  switch (event.detail.case) {
    case "request": {
      const r = event.detail.value;
      if (r.requestType) parts.push(`request_type ${r.requestType}`);
      if (r.userId) parts.push(`user ${clip(r.userId, 16)}`);
      if (r.inputSize) parts.push(`input ${r.inputSize} bytes`);
      break;
    }
    case "progress":
      parts.push(progressText(event.detail.value));
      break;
    case "result": {
      const r = event.detail.value;
      const failed = r.success === false;
      parts.push(failed ? `unsuccessful${reason(r.errorCode, r.errorMessage)}` : "success");
      if (r.processingTime) parts.push(`took ${humanDuration(r.processingTime)}`);
      if (r.adapterUsed) parts.push(`adapter ${r.adapterUsed}`);
      if (r.outputSize) parts.push(`output ${r.outputSize} bytes`);
      break;
    }
    case "error": {
      const e = event.detail.value;
      const code = e.errorCode || e.errorType || "error";
      parts.push(`${code}${e.message ? `: ${e.message}` : ""}`);
      if (e.errorType && e.errorCode) parts.push(`type ${e.errorType}`);
      if (e.retryable) parts.push("retryable");
      if (e.processingTime) parts.push(`took ${humanDuration(e.processingTime)}`);
      break;
    }
  }
  return clip(parts.filter(Boolean).join(", "), DETAIL_MAX);
}

function progressText(p: { percent: number; step: string; message: string }): string {
  const percent = p.percent ? `${Number(p.percent.toFixed(1))}%` : "";
  const step = [percent, p.step].filter(Boolean).join(" ");
  return [step, p.message].filter(Boolean).join(": ");
}

function reason(code: string, message: string): string {
  if (!code && !message) return "";
  return ` ${[code, message].filter(Boolean).join(": ")}`;
}

/** Cuts text to `max` characters, marking the cut, on one line. */
function clip(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ");
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}
