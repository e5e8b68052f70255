import { create, toBinary } from "@bufbuild/protobuf";
import { expect } from "chai";
import { StreamInteractionsRequestSchema } from "../../gen/coordinator/v1/interaction_ingest_pb.js";
import { InteractionEventSchema } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { eventBytesOfFrame, rememberWireBytes } from "../../src/transport/wire-bytes.js";

describe("event bytes of a stream frame", () => {
  it("slices the event out of an event frame, whatever the length's varint size", () => {
    for (const size of [1, 200, 20_000]) {
      const event = create(InteractionEventSchema, { eventId: "e", interactionId: "x".repeat(size) });
      const frame = create(StreamInteractionsRequestSchema, { frame: { case: "event", value: event } });
      const bytes = toBinary(StreamInteractionsRequestSchema, frame);
      rememberWireBytes(frame, bytes);
      expect(Buffer.from(eventBytesOfFrame(frame)!)).to.deep.equal(Buffer.from(toBinary(InteractionEventSchema, event)));
    }
  });

  it("gives up on frames it does not know or that hold more than the event", () => {
    const hello = create(StreamInteractionsRequestSchema, { frame: { case: "hello", value: { mcpId: "m" } } });
    rememberWireBytes(hello, toBinary(StreamInteractionsRequestSchema, hello));
    expect(eventBytesOfFrame(hello)).to.equal(undefined);
    expect(eventBytesOfFrame(create(StreamInteractionsRequestSchema))).to.equal(undefined);
    const event = create(StreamInteractionsRequestSchema, { frame: { case: "event", value: { eventId: "e" } } });
    const extra = new Uint8Array([...toBinary(StreamInteractionsRequestSchema, event), 0x08, 0x01]);
    rememberWireBytes(event, extra);
    expect(eventBytesOfFrame(event)).to.equal(undefined);
  });
});
