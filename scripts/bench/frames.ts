/**
 * StreamInteractions frames at the byte level, made cheap so the load generator spends its CPU on
 * sending rather than on protobuf: event frames are copied from a per-kind template (encoded once
 * with protobuf-es) with the ids and seq patched in, and EventAcks frames are walked for seqs only.
 *
 * Every event is a valid, distinct event: a unique event_id, an interaction id shared by the three
 * events of one interaction (STARTED with a request, PROGRESS, COMPLETED with a result), in order.
 * The request's user_id is one of {@link BENCH_USERS}, spread evenly by a hash of the interaction,
 * so the default privacy policy hashes ids it has seen recently as often as a real load might,
 * no more (its cache of recent hashes holds fewer).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventKind, InteractionEventSchema } from "../../gen/coordinator/v1/interaction_event_pb.js";
import {
  StreamInteractionsRequestSchema,
  StreamInteractionsResponseSchema,
  type StreamInteractionsResponse,
} from "../../gen/coordinator/v1/interaction_ingest_pb.js";

/** Digits reserved for the stream number and the per-stream counters in ids. */
const STREAM_DIGITS = 6;
const SEQ_DIGITS = 12;
/** event_id: `<run>-<stream>-<seq>`; interaction_id: `<run>-<stream>-i<interaction>`. */
const EVENT_ID_PLACEHOLDER_CHAR = "~";
const INTERACTION_ID_PLACEHOLDER_CHAR = "^";
/** Distinct user ids of a load: `bench-user-<5 digits>`. */
export const BENCH_USERS = 10_000;
const USER_PREFIX = "bench-user-";
const USER_DIGITS = 5;
const USER_PLACEHOLDER = USER_PREFIX + "&".repeat(USER_DIGITS);

/** A per-kind encoded InteractionEvent with the offsets of its id placeholders. */
interface Template {
  bytes: Buffer;
  eventIdAt: number;
  interactionIdAt: number;
  /** Where the user id's digits are (-1: no user id in this kind). */
  userDigitsAt: number;
}

/** What an event of the load looks like; the same fields the direct-writer ceiling builds. */
export const KINDS = [EventKind.STARTED, EventKind.PROGRESS, EventKind.COMPLETED] as const;

/** Builds the event of `kind` as a message (used for templates and by the direct-writer ceiling). */
export function eventMessage(kind: EventKind, eventId: string, interactionId: string, seq: bigint, occurredAtMs: number, userId = `${USER_PREFIX}00000`) {
  const base = { eventId, interactionId, seq, kind, occurredAt: timestampFromMs(occurredAtMs) };
  switch (kind) {
    case EventKind.STARTED:
      return create(InteractionEventSchema, { ...base, detail: { case: "request", value: { requestType: "search", userId } } });
    case EventKind.PROGRESS:
      return create(InteractionEventSchema, { ...base, detail: { case: "progress", value: { percent: 50, step: "retrieve" } } });
    default:
      return create(InteractionEventSchema, {
        ...base,
        detail: { case: "result", value: { success: true, processingTime: durationFromMs(42), outputSize: 1024n } },
      });
  }
}

/** Encodes the events of one run: ids carry `runTag` so runs never collide in the database. */
export class EventEncoder {
  readonly #runTag: string;
  readonly #templates: Template[];
  readonly #eventIdLength: number;
  readonly #interactionIdLength: number;

  constructor(runTag: string, occurredAtMs: number) {
    this.#runTag = runTag;
    this.#eventIdLength = runTag.length + 1 + STREAM_DIGITS + 1 + SEQ_DIGITS;
    this.#interactionIdLength = runTag.length + 1 + STREAM_DIGITS + 2 + SEQ_DIGITS;
    this.#templates = KINDS.map((kind) => {
      const eventId = EVENT_ID_PLACEHOLDER_CHAR.repeat(this.#eventIdLength);
      const interactionId = INTERACTION_ID_PLACEHOLDER_CHAR.repeat(this.#interactionIdLength);
      // seq 0 is not encoded: each frame appends its own seq field after the template.
      const bytes = Buffer.from(toBinary(InteractionEventSchema, eventMessage(kind, eventId, interactionId, 0n, occurredAtMs, USER_PLACEHOLDER)));
      const userAt = bytes.indexOf(USER_PLACEHOLDER);
      return { bytes, eventIdAt: bytes.indexOf(eventId), interactionIdAt: bytes.indexOf(interactionId), userDigitsAt: userAt < 0 ? -1 : userAt + USER_PREFIX.length };
    });
  }

  /** The ids of event `seq` (1-based) of stream `stream`. */
  ids(stream: number, seq: number): { eventId: string; interactionId: string; userId: string; kind: EventKind } {
    const interaction = Math.floor((seq - 1) / 3);
    return {
      eventId: `${this.#runTag}-${pad(stream, STREAM_DIGITS)}-${pad(seq, SEQ_DIGITS)}`,
      interactionId: `${this.#runTag}-${pad(stream, STREAM_DIGITS)}-i${pad(interaction, SEQ_DIGITS)}`,
      userId: USER_PREFIX + pad(userOf(stream, interaction), USER_DIGITS),
      kind: KINDS[(seq - 1) % 3]!,
    };
  }

  /** The StreamInteractionsRequest frame carrying event `seq` of stream `stream`. */
  eventFrame(stream: number, seq: number): Buffer {
    const template = this.#templates[(seq - 1) % 3]!;
    const interaction = Math.floor((seq - 1) / 3);
    const seqLength = varintLength(seq);
    const innerLength = template.bytes.length + 1 + seqLength;
    const headerLength = 1 + varintLength(innerLength);
    const frame = Buffer.allocUnsafe(headerLength + innerLength);
    frame[0] = 0x12; // StreamInteractionsRequest.event, field 2, length-delimited
    let at = writeVarint(frame, 1, innerLength);
    template.bytes.copy(frame, at);
    // event_id and interaction_id, patched in place (same lengths as the placeholders).
    let idAt = at + template.eventIdAt;
    idAt += frame.write(this.#runTag, idAt, "latin1");
    frame[idAt++] = 0x2d;
    idAt = writeDigits(frame, idAt, stream, STREAM_DIGITS);
    frame[idAt++] = 0x2d;
    writeDigits(frame, idAt, seq, SEQ_DIGITS);
    let interactionAt = at + template.interactionIdAt;
    interactionAt += frame.write(this.#runTag, interactionAt, "latin1");
    frame[interactionAt++] = 0x2d;
    interactionAt = writeDigits(frame, interactionAt, stream, STREAM_DIGITS);
    frame[interactionAt++] = 0x2d;
    frame[interactionAt++] = 0x69; // "i"
    writeDigits(frame, interactionAt, interaction, SEQ_DIGITS);
    if (template.userDigitsAt >= 0) writeDigits(frame, at + template.userDigitsAt, userOf(stream, interaction), USER_DIGITS);
    at += template.bytes.length;
    frame[at++] = 0x10; // InteractionEvent.seq, field 2, varint
    writeVarint(frame, at, seq);
    return frame;
  }
}

/** The Hello frame. */
export function helloFrame(maxInFlight: number, instanceId: string): Buffer {
  return Buffer.from(
    toBinary(
      StreamInteractionsRequestSchema,
      create(StreamInteractionsRequestSchema, {
        frame: { case: "hello", value: { maxInFlight, instanceId, clientVersion: "bench-ingest/0.1.0" } },
      }),
    ),
  );
}

/** A Heartbeat frame (the client's; last_sent_seq given). */
export function heartbeatFrame(lastSentSeq: number): Buffer {
  return Buffer.from(
    toBinary(
      StreamInteractionsRequestSchema,
      create(StreamInteractionsRequestSchema, { frame: { case: "heartbeat", value: { lastSentSeq: BigInt(lastSentSeq) } } }),
    ),
  );
}

/** What a response frame held, as far as the load generator cares. */
export type Response =
  | { kind: "acks"; seqs: number[]; notStored: number; cumulative: number }
  | { kind: "other"; frame: StreamInteractionsResponse };

/**
 * Decodes a StreamInteractionsResponse. EventAcks (the hot path) are walked by hand for their seqs
 * and statuses; everything else goes through protobuf-es.
 */
export function decodeResponse(bytes: Buffer): Response {
  if (bytes.length > 0 && bytes[0] === 0x12) return decodeAcks(bytes);
  return { kind: "other", frame: fromBinary(StreamInteractionsResponseSchema, bytes) };
}

function decodeAcks(bytes: Buffer): Response {
  const seqs: number[] = [];
  let notStored = 0;
  let cumulative = 0;
  const reader = { at: 1 };
  const end = readVarint(bytes, reader) + reader.at;
  while (reader.at < end) {
    const tag = bytes[reader.at++]!;
    if (tag === 0x0a) {
      // EventAck
      const ackEnd = readVarint(bytes, reader) + reader.at;
      let status = 0;
      while (reader.at < ackEnd) {
        const ackTag = bytes[reader.at++]!;
        const wire = ackTag & 7;
        if (ackTag === 0x08) seqs.push(readVarint(bytes, reader));
        else if (ackTag === 0x18) status = readVarint(bytes, reader);
        else if (wire === 0) readVarint(bytes, reader);
        else if (wire === 2) skip(bytes, reader);
        else throw new Error(`unexpected wire type ${wire} in EventAck`);
      }
      if (status !== 1) notStored++;
    } else if (tag === 0x10) {
      cumulative = readVarint(bytes, reader);
    } else {
      const wire = tag & 7;
      if (wire === 0) readVarint(bytes, reader);
      else if (wire === 2) skip(bytes, reader);
      else throw new Error(`unexpected wire type ${wire} in EventAcks`);
    }
  }
  return { kind: "acks", seqs, notStored, cumulative };
}

/** Skips a length-delimited field's payload (the length varint first, then that many bytes). */
function skip(bytes: Buffer, reader: { at: number }): void {
  const length = readVarint(bytes, reader);
  reader.at += length;
}

function readVarint(bytes: Buffer, reader: { at: number }): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[reader.at++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

function writeVarint(buffer: Buffer, at: number, value: number): number {
  while (value >= 128) {
    buffer[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buffer[at++] = value;
  return at;
}

function writeDigits(buffer: Buffer, at: number, value: number, digits: number): number {
  for (let i = digits - 1; i >= 0; i--) {
    buffer[at + i] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
  return at + digits;
}

/** The user of an interaction: a hash of its stream and number, spread evenly over BENCH_USERS. */
function userOf(stream: number, interaction: number): number {
  let h = Math.imul(stream + 1, 0x9e3779b1) ^ Math.imul(interaction + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= h >>> 13;
  return (h >>> 0) % BENCH_USERS;
}

function pad(value: number, digits: number): string {
  return String(value).padStart(digits, "0");
}
