/**
 * What the privacy policy adds to ingest's CPU per event, measured in-process on checkEvent (the
 * step that applies it) over the bench load's event mix (STARTED with a user id, PROGRESS,
 * COMPLETED, in turn): no policy, the default policy (request.user_id=hash), and a heavier one
 * that encrypts the user id and hashes the attributes (events then carry a two-key attributes
 * Struct). The stream path (the received bytes are stored unless the policy changed the event) and
 * the ReportInteractions path (always encoded) are measured apart.
 *
 *   node --import tsx scripts/bench/privacy-cost.ts [events per round, default 100000]
 */
import { clone, toBinary } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { DEFAULT_INGEST_LIMITS } from "../../src/interactions/limits.js";
import { SecretBytes } from "../../src/interactions/privacy/keys.js";
import { parsePrivacyPolicy } from "../../src/interactions/privacy/policy.js";
import { Privacy } from "../../src/interactions/privacy/privacy.js";
import { checkEvent, type EventPolicy } from "../../src/interactions/validate.js";
import { eventMessage, KINDS } from "./frames.js";

const perRound = Number(process.argv[2] ?? 100_000);
const ROUNDS = 5;

function policy(text: string): Privacy {
  const keys = [{ id: "k1", key: new SecretBytes(randomBytes(32)) }];
  return new Privacy({ rules: parsePrivacyPolicy(text), encryptionKeys: keys, hashKey: new SecretBytes(randomBytes(32)) }, pino({ level: "silent" }));
}

function mix(attributes: boolean): { events: InteractionEvent[]; bytes: Uint8Array[] } {
  const events = KINDS.map((kind, i) => {
    const e = eventMessage(kind, `e-${i}`, "i-1", 1n, Date.now());
    if (attributes) e.attributes = { trace: "trace-0123456789", tenant: "acme" };
    return e;
  });
  return { events, bytes: events.map((e) => toBinary(InteractionEventSchema, e)) };
}

/**
 * Median CPU µs (user + system) per event over ROUNDS rounds; copies are made outside the timed
 * loop. CPU time rather than wall time: the machine may be shared.
 *
 * @param wholeAgain - apply the policy and encode the whole event again instead of splicing (the
 *   simple way, for comparison).
 * @param distinctUsers - every STARTED event has a user id of its own, so none is in the hasher's
 *   cache of recent hashes (otherwise all have the same one, always in it).
 */
function measure(path: "stream" | "report", p: EventPolicy | undefined, attributes: boolean, wholeAgain = false, distinctUsers = false): number {
  const { events: templates, bytes: templateBytes } = mix(attributes);
  const results: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const events = Array.from({ length: perRound }, (_, i) => clone(InteractionEventSchema, templates[i % 3]!));
    let bytes = templateBytes;
    if (distinctUsers) {
      for (const [i, event] of events.entries()) if (event.detail.case === "request") event.detail.value.userId = `user-${round}-${i}`;
      bytes = events.map((event) => toBinary(InteractionEventSchema, event));
    }
    const now = Date.now();
    const started = process.cpuUsage();
    for (let i = 0; i < perRound; i++) {
      const event = events[i]!;
      if (wholeAgain) {
        checkEvent(event, DEFAULT_INGEST_LIMITS, now, path === "stream" ? bytes[distinctUsers ? i : i % 3] : undefined);
        if (p!.protect(event)) toBinary(InteractionEventSchema, event);
      } else {
        checkEvent(event, DEFAULT_INGEST_LIMITS, now, path === "stream" ? bytes[distinctUsers ? i : i % 3] : undefined, p);
      }
    }
    const used = process.cpuUsage(started);
    // Round 0 warms up.
    if (round > 0) results.push((used.user + used.system) / perRound);
  }
  return results.sort((a, b) => a - b)[Math.floor(results.length / 2)]!;
}

const scenarios: [string, string | undefined, boolean, boolean, boolean][] = [
  ["no policy", undefined, false, false, false],
  ["request.user_id=hash (default), one user", "request.user_id=hash", false, false, false],
  ["  the same, every user id new", "request.user_id=hash", false, false, true],
  ["  the same, whole event encoded again", "request.user_id=hash", false, true, true],
  ["no policy, with attributes", undefined, true, false, false],
  ["request.user_id=encrypt,attributes=hash", "request.user_id=encrypt,attributes=hash", true, false, true],
];
console.log(`checkEvent, CPU µs per event (median of ${ROUNDS} rounds of ${perRound}; 1/3 of the events are STARTED)`);
for (const path of ["stream", "report"] as const) {
  for (const [name, text, attributes, wholeAgain, distinctUsers] of scenarios) {
    console.log(`  ${path.padEnd(6)} ${name.padEnd(42)} ${measure(path, text ? policy(text) : undefined, attributes, wholeAgain, distinctUsers).toFixed(2)}`);
  }
}
