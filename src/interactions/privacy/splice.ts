/**
 * Re-encoding an event the privacy policy changed, for the price of the parts it changed: the
 * event's encoding (as received, or as validation made it) keeps every top-level field but the
 * changed ones, and the changed ones are encoded anew and appended (a protobuf decoder reads
 * fields in any order). When only the detail's text field changed (the default policy's case:
 * request.user_id), only that field is rewritten inside the detail's bytes. protobuf-es's
 * toBinary costs microseconds per call whatever the size, several times what this costs, and
 * the default policy changes every STARTED event (see scripts/bench/privacy-cost.ts).
 *
 * Every occurrence of a changed field is removed, and of every member of the detail oneof when
 * the detail changed: an encoding may repeat a field (the decoder merges them) or carry a
 * shadowed oneof member (the decoder keeps the last), and the original values in those must not
 * stay in the stored bytes. Such encodings take the slower way (the whole detail re-encoded).
 * The default policy's case (the detail's text field alone, one detail) has a faster way of its
 * own: splice-text.ts.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { InteractionEventSchema, type InteractionEvent } from "../../../gen/coordinator/v1/interaction_event_pb.js";
import { fieldsOf, type DetailCase } from "./fields.js";
import { spliceDetailText } from "./splice-text.js";

/** protect()'s result bits: which parts of the event it changed (0: none). */
export const CHANGED_DETAIL_TEXT = 1;
export const CHANGED_DETAIL_STRUCT = 2;
export const CHANGED_ATTRIBUTES = 4;
const CHANGED_DETAIL = CHANGED_DETAIL_TEXT | CHANGED_DETAIL_STRUCT;

const DETAIL_FIELDS = InteractionEventSchema.oneofs.find((o) => o.name === "detail")!.fields;
const DETAIL_NUMBERS = new Set(DETAIL_FIELDS.map((f) => f.number));
const ATTRIBUTES_NUMBER = InteractionEventSchema.fields.find((f) => f.name === "attributes")!.number;
/** Per detail case: its field number in InteractionEvent, and the number of its text field the policy may change. */
const DETAIL_TEXT = new Map(
  DETAIL_FIELDS.map((f) => [f.localName, { detailNumber: f.number, textNumber: fieldsOf(f.localName as DetailCase).find((t) => t.kind === "text")!.number }]),
);

/**
 * The encoding of `event` after the policy changed the parts `changed` says, made from
 * `encoding`, the encoding of the event before the change.
 *
 * @param changed - protect()'s bits (CHANGED_DETAIL_TEXT, CHANGED_DETAIL_STRUCT, CHANGED_ATTRIBUTES).
 */
export function spliceChanged(encoding: Uint8Array, event: InteractionEvent, changed: number): Uint8Array {
  const detail = event.detail;
  if (changed === CHANGED_DETAIL_TEXT && detail.case !== undefined) {
    const { detailNumber, textNumber } = DETAIL_TEXT.get(detail.case)!;
    const value = (detail.value as unknown as Record<string, string>)[textProperty(detail.case)]!;
    const spliced = spliceDetailText(encoding, DETAIL_NUMBERS, detailNumber, textNumber, value);
    if (spliced) return spliced;
  }
  const dropDetail = (changed & CHANGED_DETAIL) !== 0;
  const dropAttributes = (changed & CHANGED_ATTRIBUTES) !== 0;
  const kept: Uint8Array[] = [];
  const reader = new BinaryReader(encoding);
  let keptFrom = 0;
  let detailFields = 0;
  let detailContent: Uint8Array | undefined;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [fieldNo, wireType] = reader.tag();
    const isDetail = DETAIL_NUMBERS.has(fieldNo);
    if (isDetail && wireType === WireType.LengthDelimited) {
      detailFields++;
      detailContent = reader.bytes();
    } else {
      reader.skip(wireType, fieldNo);
    }
    if ((dropDetail && isDetail) || (dropAttributes && fieldNo === ATTRIBUTES_NUMBER)) {
      if (start > keptFrom) kept.push(encoding.subarray(keptFrom, start));
      keptFrom = reader.pos;
    }
  }
  if (keptFrom < encoding.length) kept.push(encoding.subarray(keptFrom));
  const textOnly = dropDetail && (changed & CHANGED_DETAIL_STRUCT) === 0 && detailFields === 1 && detail.case !== undefined;
  if (textOnly) kept.push(...rewriteText(detailContent!, detail.case, (detail.value as unknown as Record<string, string>)[textProperty(detail.case)]!));
  // The other changed parts, encoded as an InteractionEvent of their own: the bytes of those fields.
  if ((dropDetail && !textOnly) || (dropAttributes && event.attributes)) {
    const parts = create(InteractionEventSchema, {
      ...(dropDetail && !textOnly ? { detail } : {}),
      ...(dropAttributes && event.attributes ? { attributes: event.attributes } : {}),
    });
    kept.push(toBinary(InteractionEventSchema, parts));
  }
  return concat(kept);
}

/**
 * The detail field with its text field replaced by `value` (removed when empty), as chunks to
 * append. Written by hand: protobuf-es's BinaryWriter costs about a microsecond per use.
 */
function rewriteText(content: Uint8Array, detailCase: DetailCase, value: string): Uint8Array[] {
  const { detailNumber, textNumber } = DETAIL_TEXT.get(detailCase)!;
  const inner: Uint8Array[] = [];
  const reader = new BinaryReader(content);
  let keptFrom = 0;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [fieldNo, wireType] = reader.tag();
    reader.skip(wireType, fieldNo);
    if (fieldNo === textNumber) {
      if (start > keptFrom) inner.push(content.subarray(keptFrom, start));
      keptFrom = reader.pos;
    }
  }
  if (keptFrom < content.length) inner.push(content.subarray(keptFrom));
  if (value !== "") {
    const text = Buffer.from(value, "utf8");
    inner.push(lengthHeader(textNumber, text.length), text);
  }
  let length = 0;
  for (const chunk of inner) length += chunk.length;
  return [lengthHeader(detailNumber, length), ...inner];
}

/** The tag and length of a length-delimited field (the bytes before its content). */
function lengthHeader(fieldNo: number, length: number): Uint8Array {
  const out: number[] = [];
  for (let n of [(fieldNo << 3) | WireType.LengthDelimited, length]) {
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
  }
  return Uint8Array.from(out);
}

const TEXT_PROPERTY = new Map(DETAIL_FIELDS.map((f) => [f.localName, fieldsOf(f.localName as DetailCase).find((t) => t.kind === "text")!.property]));

function textProperty(detailCase: DetailCase): string {
  return TEXT_PROPERTY.get(detailCase)!;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
