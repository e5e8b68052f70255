/**
 * The common case of splice.ts in one pass and one allocation: only the detail's text field
 * changed (the default policy hashes request.user_id of every STARTED event), and the encoding
 * holds the detail once. The detail stays where it is, with its text field (every occurrence)
 * replaced by the new value at its end; everything else is copied as it is. Encodings this does
 * not handle (groups, a repeated or shadowed detail, a malformed length) return undefined and take
 * splice.ts's general way.
 *
 * Why by hand: this runs for a third of all events, and protobuf-es's BinaryReader allocates per
 * field (its tag() returns an array) while the general way collects chunks and concatenates them;
 * in the coordinator's CPU profile that was about 0.8 µs per event.
 */

/** Wire types (protobuf encoding). */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/**
 * `encoding` with the text field `textNumber` of its detail field `detailNumber` replaced by
 * `value` (removed when empty), or undefined when the encoding is not the simple case.
 *
 * @param detailNumbers - the field numbers of every member of the detail oneof.
 */
export function spliceDetailText(encoding: Uint8Array, detailNumbers: ReadonlySet<number>, detailNumber: number, textNumber: number, value: string): Uint8Array | undefined {
  // The one detail field: where its tag starts, where its content starts and ends.
  let fieldStart = -1;
  let contentStart = -1;
  let contentEnd = -1;
  for (let at = 0; at < encoding.length; ) {
    const start = at;
    const tag = readVarint(encoding, at);
    if (tag === undefined) return undefined;
    at = tag.next;
    const wireType = tag.value & 7;
    const fieldNo = tag.value >>> 3;
    const end = skip(encoding, at, wireType);
    if (end === undefined) return undefined;
    if (detailNumbers.has(fieldNo)) {
      if (fieldStart >= 0 || fieldNo !== detailNumber || wireType !== LENGTH_DELIMITED) return undefined;
      fieldStart = start;
      contentStart = readVarint(encoding, at)!.next;
      contentEnd = end;
    }
    at = end;
  }
  if (fieldStart < 0) return undefined;

  // The detail's own fields: the byte ranges of the text field's occurrences, to leave out.
  const dropped: number[] = [];
  let droppedBytes = 0;
  for (let at = contentStart; at < contentEnd; ) {
    const start = at;
    const tag = readVarint(encoding, at);
    if (tag === undefined) return undefined;
    const end = skip(encoding, tag.next, tag.value & 7);
    if (end === undefined || end > contentEnd) return undefined;
    if (tag.value >>> 3 === textNumber) {
      dropped.push(start, end);
      droppedBytes += end - start;
    }
    at = end;
  }

  const valueBytes = value === "" ? 0 : Buffer.byteLength(value, "utf8");
  const textTag = (textNumber << 3) | LENGTH_DELIMITED;
  const textBytes = value === "" ? 0 : varintSize(textTag) + varintSize(valueBytes) + valueBytes;
  const innerBytes = contentEnd - contentStart - droppedBytes + textBytes;
  const detailTag = (detailNumber << 3) | LENGTH_DELIMITED;
  const total = fieldStart + varintSize(detailTag) + varintSize(innerBytes) + innerBytes + (encoding.length - contentEnd);

  const out = Buffer.allocUnsafe(total);
  out.set(encoding.subarray(0, fieldStart), 0);
  let at = writeVarint(out, fieldStart, detailTag);
  at = writeVarint(out, at, innerBytes);
  let keptFrom = contentStart;
  for (let i = 0; i < dropped.length; i += 2) {
    out.set(encoding.subarray(keptFrom, dropped[i]), at);
    at += dropped[i]! - keptFrom;
    keptFrom = dropped[i + 1]!;
  }
  out.set(encoding.subarray(keptFrom, contentEnd), at);
  at += contentEnd - keptFrom;
  if (value !== "") {
    at = writeVarint(out, at, textTag);
    at = writeVarint(out, at, valueBytes);
    at += out.write(value, at, "utf8");
  }
  out.set(encoding.subarray(contentEnd), at);
  return out;
}

/** The varint at `at` (up to 32 bits, all tags and lengths here), and where the next byte is. */
function readVarint(bytes: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (at >= bytes.length) return undefined;
    const byte = bytes[at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return value > 0xffffffff ? undefined : { value: value >>> 0, next: at };
  }
  return undefined;
}

/** Where the field whose value starts at `at` ends, or undefined (a group, or out of bounds). */
function skip(bytes: Uint8Array, at: number, wireType: number): number | undefined {
  let end: number;
  switch (wireType) {
    case VARINT:
      end = at;
      while (end < bytes.length && bytes[end]! >= 0x80) end++;
      end++;
      break;
    case FIXED64:
      end = at + 8;
      break;
    case LENGTH_DELIMITED: {
      const length = readVarint(bytes, at);
      if (length === undefined) return undefined;
      end = length.next + length.value;
      break;
    }
    case FIXED32:
      end = at + 4;
      break;
    default:
      return undefined;
  }
  return end <= bytes.length ? end : undefined;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value >>>= 7;
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[at++] = value;
  return at;
}
