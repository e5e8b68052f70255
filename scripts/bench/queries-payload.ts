/**
 * Stored event payloads for the query benchmark's data set: coordinator.v1.InteractionEvent bytes,
 * written field by field into one reused buffer.
 *
 * Why by hand: create() + toBinary() costs ~20 µs per event here and protobuf-es's BinaryWriter
 * ~16 µs, two minutes or more for 5 million events; the few fields written directly cost about
 * 1 µs. The bytes are what a protobuf encoder produces (fields in number order); checkPayloads()
 * decodes samples with fromBinary and compares, so a mistake here fails the load, not the reads.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { EventKind, InteractionEventSchema } from "../../gen/coordinator/v1/interaction_event_pb.js";

/** What one synthetic event says, besides its kind's detail. */
export interface PayloadEvent {
  eventId: string;
  interactionId: string;
  sessionId: string;
  kind: EventKind;
  occurredMs: number;
  /** STARTED */
  userId?: string;
  requestType?: string;
  inputSize?: number;
  /** PROGRESS */
  percent?: number;
  step?: string;
  /** COMPLETED (success may be false) and FAILED */
  success?: boolean;
  outputSize?: number;
  errorType?: string;
  errorCode?: string;
  errorMessage?: string;
  retryable?: boolean;
  /** Reported processing time (ms); undefined: not reported. */
  processingMs?: number;
}

/** The EventMetadata every event of one MCP carries (the Hello's, applied as defaults). */
export interface PayloadMetadata {
  mcpType: string;
  mcpVersion: string;
  environment: string;
  region: string;
}

/** Encodes `event` with `metadata` as InteractionEvent bytes. */
export function encodePayload(event: PayloadEvent, metadata: PayloadMetadata): Buffer {
  const w = writer.reset();
  w.string(1, event.eventId);
  w.string(3, event.interactionId);
  if (event.sessionId) w.string(4, event.sessionId);
  w.uint(5, event.kind);
  timestamp(w, 6, event.occurredMs);
  let at: number;
  switch (event.kind) {
    case EventKind.STARTED:
      at = w.begin(7);
      if (event.userId) w.string(1, event.userId);
      if (event.requestType) w.string(2, event.requestType);
      if (event.inputSize) w.uint(3, event.inputSize);
      w.end(at);
      break;
    case EventKind.PROGRESS:
      at = w.begin(8);
      if (event.percent) w.double(1, event.percent);
      if (event.step) w.string(2, event.step);
      w.end(at);
      break;
    case EventKind.COMPLETED:
      at = w.begin(9);
      if (event.success !== undefined) w.uint(1, event.success ? 1 : 0, true);
      if (event.outputSize) w.uint(2, event.outputSize);
      if (event.processingMs !== undefined) duration(w, 5, event.processingMs);
      if (event.errorCode) w.string(9, event.errorCode);
      if (event.errorMessage) w.string(10, event.errorMessage);
      w.end(at);
      break;
    case EventKind.FAILED:
      at = w.begin(10);
      if (event.errorType) w.string(1, event.errorType);
      if (event.errorCode) w.string(2, event.errorCode);
      if (event.errorMessage) w.string(3, event.errorMessage);
      if (event.retryable) w.uint(4, 1);
      if (event.processingMs !== undefined) duration(w, 6, event.processingMs);
      w.end(at);
      break;
  }
  at = w.begin(12);
  w.string(1, metadata.mcpType);
  w.string(2, metadata.mcpVersion);
  w.string(3, metadata.environment);
  w.string(4, metadata.region);
  w.end(at);
  return w.finish();
}

/** coordinator.v1.ProgressInfo bytes, as the writer stores a summary's last progress. */
export function encodeProgress(percent: number, step: string): Buffer {
  const w = writer.reset();
  if (percent) w.double(1, percent);
  if (step) w.string(2, step);
  return w.finish();
}

/** google.protobuf.Timestamp of a whole number of ms (>= 0), as field `field`. */
function timestamp(w: Wire, field: number, ms: number): void {
  const at = w.begin(field);
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  if (seconds) w.uint(1, seconds);
  if (nanos) w.uint(2, nanos);
  w.end(at);
}

/** google.protobuf.Duration of a non-negative number of ms (µs precision), as field `field`. */
function duration(w: Wire, field: number, ms: number): void {
  const at = w.begin(field);
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1000) * 1000;
  if (seconds) w.uint(1, seconds);
  if (nanos) w.uint(2, nanos);
  w.end(at);
}

/**
 * The protobuf wire format, just what these messages need: non-negative varints, doubles,
 * strings and nested messages, written into one reused buffer.
 */
class Wire {
  #buf = Buffer.allocUnsafe(64 * 1024);
  #at = 0;

  reset(): this {
    this.#at = 0;
    return this;
  }

  /** A varint field (0 is written only when `always`, as for an explicitly set bool). */
  uint(field: number, value: number, always = false): void {
    if (!value && !always) return;
    this.#varint(field * 8);
    this.#varint(value);
  }

  double(field: number, value: number): void {
    this.#varint(field * 8 + 1);
    this.#buf.writeDoubleLE(value, this.#at);
    this.#at += 8;
  }

  string(field: number, value: string): void {
    const at = this.begin(field);
    // Short ASCII strings (all of this data set's) are copied byte by byte: cheaper than a call
    // into Buffer.write for a few dozen characters.
    let ascii = value.length < 128;
    for (let i = 0; ascii && i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 128) ascii = false;
      else this.#buf[this.#at + i] = code;
    }
    this.#at += ascii ? value.length : this.#buf.write(value, this.#at, "utf8");
    this.end(at);
  }

  /** Starts a length-delimited field; returns where its one-byte length placeholder is. */
  begin(field: number): number {
    this.#varint(field * 8 + 2);
    return this.#at++;
  }

  /** Ends the field begun at `at`: writes its length, moving the content when it needs more bytes. */
  end(at: number): void {
    const length = this.#at - at - 1;
    if (length < 128) {
      this.#buf[at] = length;
      return;
    }
    let size = 1;
    for (let v = length; v >= 128; v = Math.floor(v / 128)) size++;
    this.#buf.copyWithin(at + size, at + 1, this.#at);
    this.#at = at;
    this.#varint(length);
    this.#at += length;
  }

  finish(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#at));
  }

  #varint(value: number): void {
    while (value >= 128) {
      this.#buf[this.#at++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.#buf[this.#at++] = value;
  }
}

const writer = new Wire();

/**
 * Decodes each payload with protobuf-es and checks the fields the read side and the summaries
 * rely on. @throws naming the first mismatch.
 */
export function checkPayloads(samples: { event: PayloadEvent; payload: Uint8Array }[]): void {
  for (const { event, payload } of samples) {
    const decoded = fromBinary(InteractionEventSchema, payload);
    const occurredMs = Number(decoded.occurredAt?.seconds ?? 0n) * 1000 + (decoded.occurredAt?.nanos ?? 0) / 1e6;
    const mismatch =
      decoded.eventId !== event.eventId
        ? "event_id"
        : decoded.interactionId !== event.interactionId
          ? "interaction_id"
          : decoded.sessionId !== event.sessionId
            ? "session_id"
            : decoded.kind !== event.kind
              ? "kind"
              : occurredMs !== event.occurredMs
                ? "occurred_at"
                : detailMismatch(decoded.detail, event);
    if (mismatch) throw new Error(`payload check: ${mismatch} of event ${event.eventId} does not decode to what was meant`);
  }
}

function detailMismatch(detail: ReturnType<typeof fromBinary<typeof InteractionEventSchema>>["detail"], event: PayloadEvent): string {
  const ms = (d: { seconds: bigint; nanos: number } | undefined) => (d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : undefined);
  const near = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? a === b : Math.abs(a - b) < 0.001);
  switch (event.kind) {
    case EventKind.STARTED:
      return detail.case === "request" && detail.value.userId === (event.userId ?? "") && detail.value.requestType === (event.requestType ?? "") ? "" : "request";
    case EventKind.PROGRESS:
      return detail.case === "progress" && detail.value.step === (event.step ?? "") ? "" : "progress";
    case EventKind.COMPLETED:
      return detail.case === "result" &&
        detail.value.success === event.success &&
        detail.value.errorCode === (event.errorCode ?? "") &&
        near(ms(detail.value.processingTime), event.processingMs)
        ? ""
        : "result";
    case EventKind.FAILED:
      return detail.case === "error" && detail.value.errorCode === (event.errorCode ?? "") && near(ms(detail.value.processingTime), event.processingMs) ? "" : "error";
    default:
      return "kind";
  }
}
