/**
 * The re-encoding of events the privacy policy changed (privacy/splice.ts): for random events and
 * random policies, the stored bytes decode to exactly the protected event, on the stream path
 * (received bytes) and the ReportInteractions path; and original values hidden in repeated or
 * shadowed fields of a crafted encoding do not survive into the stored bytes.
 */
import { clone, create, fromBinary, toBinary, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { EventKind, InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { DEFAULT_INGEST_LIMITS } from "../../src/interactions/limits.js";
import { SecretBytes } from "../../src/interactions/privacy/keys.js";
import { parsePrivacyPolicy } from "../../src/interactions/privacy/policy.js";
import { Privacy } from "../../src/interactions/privacy/privacy.js";
import { checkEvent } from "../../src/interactions/validate.js";
import { testLogger } from "../support/logger.js";
import { seededRandom } from "../support/random.js";

/** A small deterministic generator, so a failure can be replayed from its seed. */
function random(seed: number) {
  const next = seededRandom(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const text = () => (int(4) === 0 ? "" : `v${int(1000)}-ü-${"x".repeat(int(30))}`);
  const value = (depth = 0): JsonValue => {
    switch (int(depth > 1 ? 4 : 6)) {
      case 0:
        return text();
      case 1:
        return int(1000) / 8;
      case 2:
        return int(2) === 0;
      case 3:
        return null;
      case 4:
        return [value(depth + 1), value(depth + 1)];
      default:
        return struct(depth + 1) ?? {};
    }
  };
  const struct = (depth = 0): JsonObject | undefined => {
    if (int(3) === 0) return undefined;
    const keys = ["ssn", "card", "query", "lang", "email", "n"];
    return Object.fromEntries(keys.filter(() => int(2) === 0).map((k) => [k, value(depth)]));
  };
  return { int, pick, text, struct };
}

const RULES = [
  "request.user_id",
  "request.parameters",
  "request.parameters.ssn",
  "request.parameters.card",
  "progress.message",
  "progress.data",
  "progress.data.n",
  "result.error_message",
  "result.data",
  "result.data.email",
  "error.message",
  "error.data",
  "error.data.query",
  "attributes",
  "attributes.lang",
];

function randomEvent(r: ReturnType<typeof random>, i: number): InteractionEvent {
  const kind = r.pick([EventKind.STARTED, EventKind.PROGRESS, EventKind.COMPLETED, EventKind.FAILED]);
  const detail =
    kind === EventKind.STARTED
      ? { case: "request" as const, value: { userId: r.text(), requestType: "t", parameters: r.struct() } }
      : kind === EventKind.PROGRESS
        ? { case: "progress" as const, value: { percent: 5, message: r.text(), data: r.struct() } }
        : kind === EventKind.COMPLETED
          ? { case: "result" as const, value: { success: false, errorMessage: r.text(), data: r.struct(), stepsExecuted: ["a", "b"] } }
          : { case: "error" as const, value: { errorCode: "E", message: r.text(), data: r.struct() } };
  return create(InteractionEventSchema, {
    eventId: `e-${i}`,
    seq: BigInt(i + 1),
    interactionId: `i-${r.int(5)}`,
    sessionId: r.text(),
    kind,
    occurredAt: timestampFromMs(Date.now() - r.int(10_000)),
    detail: r.int(6) === 0 ? undefined : detail,
    attributes: r.struct(),
    metadata: r.int(2) === 0 ? { region: "eu", mcpVersion: "1" } : undefined,
  } as never);
}

function randomPolicy(r: ReturnType<typeof random>): Privacy {
  const rules = RULES.filter(() => r.int(3) === 0).map((path) => `${path}=${r.pick(["drop", "hash", "encrypt"])}`);
  const keys = [{ id: "k1", key: new SecretBytes(randomBytes(32)) }];
  return new Privacy({ rules: parsePrivacyPolicy(rules.join(",") || "none"), encryptionKeys: keys, hashKey: new SecretBytes(randomBytes(32)) }, testLogger());
}

const json = (e: InteractionEvent) => toJson(InteractionEventSchema, e);

/** Every string value in a JSON value (the texts a policy may have hidden). */
function strings(value: JsonValue): string[] {
  if (typeof value === "string") return [value];
  if (value === null || typeof value !== "object") return [];
  return (Array.isArray(value) ? value : Object.values(value)).flatMap(strings);
}

describe("privacy: re-encoding changed events", () => {
  const now = Date.now();

  it("stores bytes that decode to the protected event, for random events and policies, on both ingest paths", () => {
    let changedEvents = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = random(seed);
      const policy = randomPolicy(r);
      const original = randomEvent(r, seed);
      const received = toBinary(InteractionEventSchema, original);
      for (const path of ["stream", "report"] as const) {
        const event = clone(InteractionEventSchema, original);
        const checked = checkEvent(event, DEFAULT_INGEST_LIMITS, now, path === "stream" ? received : undefined, policy);
        expect(checked.ok, `seed ${seed}`).to.equal(true);
        const stored = fromBinary(InteractionEventSchema, (checked as { payload: Uint8Array }).payload);
        // `event` is what the policy made of it (and what the summary columns are taken from).
        expect(json(stored), `seed ${seed}, ${path}`).to.deep.equal(json(event));
        // A text the policy removed from the event is not left in the bytes either.
        const kept = JSON.stringify(json(event));
        const payload = Buffer.from((checked as { payload: Uint8Array }).payload);
        for (const text of strings(json(original))) {
          if (text.length > 3 && !kept.includes(text)) expect(payload.includes(text), `seed ${seed}, ${path}: "${text}" left in the bytes`).to.equal(false);
        }
        if (path === "stream" && JSON.stringify(json(event)) !== JSON.stringify(json(original))) changedEvents++;
      }
    }
    expect(changedEvents, "most random cases change something").to.be.greaterThan(100);
  });

  it("leaves no original value in repeated or shadowed fields of the received encoding", () => {
    const policy = new Privacy(
      { rules: parsePrivacyPolicy("request.user_id=hash,progress.message=hash,attributes.email=drop"), encryptionKeys: [], hashKey: new SecretBytes(randomBytes(32)) },
      testLogger(),
    );
    const at = timestampFromMs(now);
    const part = (init: Parameters<typeof create<typeof InteractionEventSchema>>[1]) => toBinary(InteractionEventSchema, create(InteractionEventSchema, init));
    const contains = (bytes: Uint8Array, text: string) => Buffer.from(bytes).includes(text);

    // A request field given twice (the decoder merges them) and attributes given twice.
    const repeated = Buffer.concat([
      part({ eventId: "e1", interactionId: "i", kind: EventKind.STARTED, occurredAt: at, detail: { case: "request", value: { userId: "alice-secret" } }, attributes: { email: "a@x" } }),
      part({ detail: { case: "request", value: { requestType: "search" } }, attributes: { keep: "k" } }),
    ]);
    const merged = fromBinary(InteractionEventSchema, repeated);
    const checked = checkEvent(merged, DEFAULT_INGEST_LIMITS, now, repeated, policy);
    const bytes = (checked as { payload: Uint8Array }).payload;
    expect(contains(bytes, "alice-secret")).to.equal(false);
    expect(contains(bytes, "a@x")).to.equal(false);
    const stored = fromBinary(InteractionEventSchema, bytes);
    expect(stored.detail.case === "request" && stored.detail.value.requestType).to.equal("search");
    expect(stored.attributes).to.deep.equal({ keep: "k" });

    // A request shadowed by a later progress (the decoder keeps the last oneof member).
    const shadowed = Buffer.concat([
      part({ eventId: "e2", interactionId: "i", kind: EventKind.PROGRESS, occurredAt: at, detail: { case: "request", value: { userId: "bob-secret" } } }),
      part({ detail: { case: "progress", value: { message: "half way" } } }),
    ]);
    const event = fromBinary(InteractionEventSchema, shadowed);
    expect(event.detail.case).to.equal("progress");
    const out = (checkEvent(event, DEFAULT_INGEST_LIMITS, now, shadowed, policy) as { payload: Uint8Array }).payload;
    expect(contains(out, "bob-secret")).to.equal(false);
    expect(contains(out, "half way")).to.equal(false);
  });
});
