/**
 * The bytes a request message arrived as, kept beside the decoded message.
 *
 * Ingest stores every event in its protobuf encoding. The client already sent exactly that, so
 * re-encoding the decoded event (a fifth of the server's CPU under load, by profile) is wasted
 * work: the request deserializer remembers each frame's bytes here, and the ingest service slices
 * the event out of its frame.
 */

const WIRE = new WeakMap<object, Uint8Array>();

/** Records `bytes` as the encoding of `message` (called by the request deserializers). */
export function rememberWireBytes(message: object, bytes: Uint8Array): void {
  WIRE.set(message, bytes);
}

/**
 * The encoding of the event inside a StreamInteractionsRequest frame, when the frame holds
 * nothing but that event (field 2): then the event's bytes are the frame minus its tag and length.
 *
 * @returns undefined when the bytes are unknown or the frame has anything else in it.
 */
export function eventBytesOfFrame(frame: object): Uint8Array | undefined {
  const bytes = WIRE.get(frame);
  // 0x12: field 2, wire type 2 (length-delimited).
  if (!bytes || bytes[0] !== 0x12) return undefined;
  let length = 0;
  let shift = 0;
  let offset = 1;
  for (; offset < bytes.length && offset <= 5; offset++) {
    const byte = bytes[offset]!;
    length |= (byte & 0x7f) << shift;
    shift += 7;
    if ((byte & 0x80) === 0) {
      offset++;
      return offset + length === bytes.length ? bytes.subarray(offset) : undefined;
    }
  }
  return undefined;
}
