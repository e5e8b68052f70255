import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { EventKind, InteractionEventSchema } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { DEFAULT_INGEST_LIMITS } from "../../src/interactions/limits.js";
import { checkEvent } from "../../src/interactions/validate.js";
import { event } from "./events.js";

describe("event validation", () => {
  const now = Date.now();
  const limits = { ...DEFAULT_INGEST_LIMITS, maxPayloadBytes: 1_000 };

  function reason(e: ReturnType<typeof event>) {
    const checked = checkEvent(e, limits, now);
    return checked.ok ? undefined : checked.reason;
  }

  it("accepts a valid event and returns its encoding", () => {
    const e = event(EventKind.STARTED, "i", now);
    const checked = checkEvent(e, limits, now);
    expect(checked.ok).to.equal(true);
    expect(fromBinary(InteractionEventSchema, (checked as { payload: Uint8Array }).payload).eventId).to.equal(e.eventId);
  });

  it("names the field of each rule", () => {
    expect(reason({ ...event(EventKind.STARTED, "i", now), eventId: "" })).to.match(/^event_id: required/);
    expect(reason({ ...event(EventKind.STARTED, "i", now), eventId: "x".repeat(129) })).to.match(/^event_id: 129 characters/);
    expect(reason(event(EventKind.STARTED, "", now))).to.match(/^interaction_id: required/);
    expect(reason({ ...event(EventKind.STARTED, "i", now), sessionId: "a\u0000b" })).to.match(/^session_id: contains control/);
    expect(reason({ ...event(EventKind.STARTED, "i", now), kind: EventKind.UNSPECIFIED })).to.match(/^kind: required/);
    expect(reason({ ...event(EventKind.STARTED, "i", now), kind: 99 as EventKind })).to.match(/^kind: unknown value 99/);
    expect(reason({ ...event(EventKind.STARTED, "i", now), occurredAt: undefined })).to.match(/^occurred_at: required/);
    expect(reason(event(EventKind.STARTED, "i", now + 6 * 60_000))).to.match(/^occurred_at: .* in the future/);
    expect(reason({ ...event(EventKind.COMPLETED, "i", now), kind: EventKind.STARTED })).to.match(/^detail: result does not match kind STARTED/);
  });

  it("limits detail and attributes separately", () => {
    const big = "x".repeat(1_200);
    const detail = create(InteractionEventSchema, {
      eventId: "e",
      interactionId: "i",
      kind: EventKind.PROGRESS,
      occurredAt: timestampFromMs(now),
      detail: { case: "progress", value: { message: big } },
    });
    expect(reason(detail)).to.match(/^detail: \d+ bytes encoded, over the limit of 1000/);
    const attributes = create(InteractionEventSchema, {
      eventId: "e",
      interactionId: "i",
      kind: EventKind.PROGRESS,
      occurredAt: timestampFromMs(now),
      attributes: { note: big },
    });
    expect(reason(attributes)).to.match(/^attributes: \d+ bytes encoded/);
    // Each part under the limit, the whole over it: fine.
    const both = create(InteractionEventSchema, {
      eventId: "e",
      interactionId: "i",
      kind: EventKind.PROGRESS,
      occurredAt: timestampFromMs(now),
      detail: { case: "progress", value: { message: "x".repeat(700) } },
      attributes: { note: "y".repeat(700) },
    });
    expect(reason(both)).to.equal(undefined);
  });
});
