/**
 * The query benchmark's synthetic history: interactions of `mcps` MCPs spread evenly over a
 * period (30 days), about 3 events each (STARTED, 0-2 PROGRESS, then COMPLETED or FAILED), made
 * in time order, in chunks ready for set-based inserts.
 *
 * The mix: ~90% succeed; failures are FAILED with one of a few error codes (timeouts near 30 s)
 * or COMPLETED with success=false; 0.5% never finish. Processing times are log-normal, clamped
 * to 5 ms .. 30 s, with a median per MCP from 50 ms to 2 s; some MCPs are busier than others.
 * Each event arrives (received_at) 1-200 ms after it happened. A seeded generator makes the same
 * data set for the same plan.
 *
 * Each summary row is folded from the interaction's own events with the writer's rules
 * (writer-queries.ts), so the summaries, the events and their payloads agree.
 */
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { encodePayload, encodeProgress, type PayloadEvent, type PayloadMetadata } from "./queries-payload.js";
import { seededRandom } from "../../test/support/random.js";

/** What to generate. */
export interface DatasetPlan {
  /** Events in all (the last interaction may be cut short to hit it exactly). */
  events: number;
  mcps: number;
  /** Interactions start in [startMs, endMs - 35 s], so every event happened before endMs. */
  startMs: number;
  endMs: number;
  seed: number;
}

/** Events of one chunk, column by column (times in ms since the epoch). */
export interface EventColumns {
  receivedMs: number[];
  mcpId: string[];
  eventId: string[];
  interactionId: string[];
  sessionId: string[];
  kind: number[];
  occurredMs: number[];
  payload: Uint8Array[];
}

/** Summary rows of one chunk, column by column, as the writer maintains them. */
export interface SummaryColumns {
  mcpId: string[];
  interactionId: string[];
  anySessionId: string[];
  startedSessionId: string[];
  firstEventMs: number[];
  lastEventMs: number[];
  firstSeenMs: number[];
  lastSeenMs: number[];
  eventCount: number[];
  startedMs: (number | null)[];
  startedEventId: (string | null)[];
  requestType: string[];
  userId: string[];
  progressCount: number[];
  lastProgressMs: (number | null)[];
  lastProgressEventId: (string | null)[];
  lastProgress: (Uint8Array | null)[];
  terminalKind: (number | null)[];
  endedMs: (number | null)[];
  terminalEventId: (string | null)[];
  success: (boolean | null)[];
  errorCode: string[];
  errorMessage: string[];
  reportedMs: (number | null)[];
}

export interface Chunk {
  events: EventColumns;
  summaries: SummaryColumns;
  /** A few events with their payloads, to check the encoding. */
  samples: { event: PayloadEvent; payload: Uint8Array }[];
}

/** The MCP ids of a plan. */
export function mcpIds(mcps: number): string[] {
  return Array.from({ length: mcps }, (_, k) => `bench-q-mcp-${String(k).padStart(2, "0")}`);
}

/** Mean events per interaction (1 STARTED + 1 PROGRESS on average + 0.995 terminal). */
const EVENTS_PER_INTERACTION = 2.995;
const REQUEST_TYPES = ["search", "search", "search", "summarize", "summarize", "translate", "classify", "extract", "generate_report"];
const STEPS = ["retrieve", "rank", "generate"];
/** Failures: [share, kind, error_type, error_code, message, retryable]. */
const FAILURES: [number, EventKind, string, string, string, boolean][] = [
  [0.3, EventKind.FAILED, "timeout", "TIMEOUT", "no answer from the model within 30 s", true],
  [0.2, EventKind.FAILED, "upstream", "UPSTREAM_503", "upstream returned 503 Service Unavailable", true],
  [0.15, EventKind.FAILED, "upstream", "RATE_LIMITED", "rate limit exceeded, retry after 1 s", true],
  [0.1, EventKind.FAILED, "validation", "INVALID_INPUT", "input document is empty", false],
  [0.05, EventKind.FAILED, "internal", "INTERNAL", "unexpected null in adapter", false],
  [0.2, EventKind.COMPLETED, "", "LOW_CONFIDENCE", "confidence below threshold", false],
];

/** Generates the data set chunk by chunk (`perChunk` interactions each), oldest first. */
export function* generateDataset(plan: DatasetPlan, perChunk: number): Generator<Chunk> {
  const random = seededRandom(plan.seed);
  const ids = mcpIds(plan.mcps);
  const profiles = ids.map((_, k) => ({
    // Medians from 50 ms to 2 s; failure rates 4% to 16% (10% on average), not tied to speed.
    medianMs: 50 * Math.pow(40, k / Math.max(1, plan.mcps - 1)),
    failRate: 0.04 + (0.12 * ((k * 37) % plan.mcps)) / Math.max(1, plan.mcps - 1),
    metadata: { mcpType: k % 3 === 0 ? "llm-adapter" : k % 3 === 1 ? "search-backend" : "doc-converter", mcpVersion: `1.${k % 7}.${k % 4}`, environment: "production", region: k % 2 ? "eu-west-1" : "us-east-1" } as PayloadMetadata,
  }));
  // Busier and quieter MCPs: weight 1 / (1 + k / 8), cumulated for picking.
  const weights = ids.map((_, k) => 1 / (1 + k / 8));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative = weights.map(((sum) => (w: number) => (sum += w / total))(0));
  const interactions = Math.ceil(plan.events / EVENTS_PER_INTERACTION);
  const step = (plan.endMs - 35_000 - plan.startMs) / interactions;
  const uuid = uuidMaker(random);
  let eventsLeft = plan.events;
  let chunk = emptyChunk();
  for (let j = 0; eventsLeft > 0; j++) {
    const mcp = pick(cumulative, random());
    const profile = profiles[mcp]!;
    const t0 = Math.floor(plan.startMs + (Math.min(j, interactions - 1) + random()) * step);
    const interactionId = uuid(t0);
    const sessionId = random() < 0.6 ? `s-${Math.floor(random() * 200_000).toString(36)}` : "";
    const events: PayloadEvent[] = [];
    const failed = random() < profile.failRate;
    const failure = failed ? pickFailure(random()) : undefined;
    const timeout = failure?.[3] === "TIMEOUT";
    let processingMs = timeout ? 29_000 + Math.floor(random() * 1_000) : Math.round(clamp(profile.medianMs * Math.exp(1.2 * gaussian(random)), 5, 30_000));
    if (failure && !timeout && failure[1] === EventKind.FAILED) processingMs = Math.max(5, Math.round(processingMs / 4));
    const base = { interactionId, sessionId };
    events.push({
      ...base,
      eventId: uuid(t0),
      kind: EventKind.STARTED,
      occurredMs: t0,
      userId: `user-${Math.floor(random() * 50_000)}`,
      requestType: REQUEST_TYPES[Math.floor(random() * REQUEST_TYPES.length)]!,
      inputSize: 200 + Math.floor(random() * 20_000),
    });
    const r = random();
    const progressCount = r < 0.25 ? 0 : r < 0.75 ? 1 : 2;
    for (let i = 0; i < progressCount; i++) {
      const at = t0 + Math.floor((processingMs * (i + 1)) / (progressCount + 1));
      events.push({ ...base, eventId: uuid(at), kind: EventKind.PROGRESS, occurredMs: at, percent: Math.round((100 * (i + 1)) / (progressCount + 1)), step: STEPS[i]! });
    }
    if (random() >= 0.005) {
      const end = t0 + processingMs;
      const reported = random() < 0.8 ? processingMs : undefined;
      if (!failure) {
        events.push({ ...base, eventId: uuid(end), kind: EventKind.COMPLETED, occurredMs: end, success: true, outputSize: 100 + Math.floor(random() * 50_000), processingMs: reported });
      } else if (failure[1] === EventKind.COMPLETED) {
        events.push({ ...base, eventId: uuid(end), kind: EventKind.COMPLETED, occurredMs: end, success: false, errorCode: failure[3], errorMessage: failure[4], processingMs: reported });
      } else {
        events.push({ ...base, eventId: uuid(end), kind: EventKind.FAILED, occurredMs: end, errorType: failure[2], errorCode: failure[3], errorMessage: failure[4], retryable: failure[5], processingMs: reported });
      }
    }
    if (events.length > eventsLeft) events.length = eventsLeft;
    eventsLeft -= events.length;
    addInteraction(chunk, ids[mcp]!, events, profile.metadata, random);
    if (chunk.summaries.mcpId.length >= perChunk || eventsLeft === 0) {
      yield chunk;
      chunk = emptyChunk();
    }
  }
}

/** Adds one interaction's events and its summary (folded from them) to the chunk. */
function addInteraction(chunk: Chunk, mcpId: string, events: PayloadEvent[], metadata: PayloadMetadata, random: () => number): void {
  const e = chunk.events;
  let firstSeen = Infinity;
  let lastSeen = -Infinity;
  for (const event of events) {
    const receivedMs = event.occurredMs + 1 + Math.floor(random() * random() * 200);
    firstSeen = Math.min(firstSeen, receivedMs);
    lastSeen = Math.max(lastSeen, receivedMs);
    const payload = encodePayload(event, metadata);
    e.receivedMs.push(receivedMs);
    e.mcpId.push(mcpId);
    e.eventId.push(event.eventId);
    e.interactionId.push(event.interactionId);
    e.sessionId.push(event.sessionId);
    e.kind.push(event.kind);
    e.occurredMs.push(event.occurredMs);
    e.payload.push(payload);
    if (chunk.samples.length < 8 && random() < 0.01) chunk.samples.push({ event, payload });
  }
  // The writer's rules (writer-queries.ts): the earliest STARTED, the latest PROGRESS, and the
  // terminal event (one at most here) decide their columns.
  const started = events.find((event) => event.kind === EventKind.STARTED);
  const progress = events.filter((event) => event.kind === EventKind.PROGRESS).at(-1);
  const terminal = events.find((event) => event.kind === EventKind.COMPLETED || event.kind === EventKind.FAILED);
  const s = chunk.summaries;
  s.mcpId.push(mcpId);
  s.interactionId.push(events[0]!.interactionId);
  s.anySessionId.push(events[0]!.sessionId);
  s.startedSessionId.push(started?.sessionId ?? "");
  s.firstEventMs.push(Math.min(...events.map((event) => event.occurredMs)));
  s.lastEventMs.push(Math.max(...events.map((event) => event.occurredMs)));
  s.firstSeenMs.push(firstSeen);
  s.lastSeenMs.push(lastSeen);
  s.eventCount.push(events.length);
  s.startedMs.push(started?.occurredMs ?? null);
  s.startedEventId.push(started?.eventId ?? null);
  s.requestType.push(started?.requestType ?? "");
  s.userId.push(started?.userId ?? "");
  s.progressCount.push(events.filter((event) => event.kind === EventKind.PROGRESS).length);
  s.lastProgressMs.push(progress?.occurredMs ?? null);
  s.lastProgressEventId.push(progress?.eventId ?? null);
  s.lastProgress.push(progress ? encodeProgress(progress.percent ?? 0, progress.step ?? "") : null);
  s.terminalKind.push(terminal?.kind ?? null);
  s.endedMs.push(terminal?.occurredMs ?? null);
  s.terminalEventId.push(terminal?.eventId ?? null);
  s.success.push(terminal ? terminal.kind === EventKind.COMPLETED && terminal.success !== false : null);
  s.errorCode.push(terminal?.errorCode ?? "");
  s.errorMessage.push(terminal?.errorMessage ?? "");
  s.reportedMs.push(terminal?.processingMs ?? null);
}

function emptyChunk(): Chunk {
  return {
    events: { receivedMs: [], mcpId: [], eventId: [], interactionId: [], sessionId: [], kind: [], occurredMs: [], payload: [] },
    summaries: {
      mcpId: [],
      interactionId: [],
      anySessionId: [],
      startedSessionId: [],
      firstEventMs: [],
      lastEventMs: [],
      firstSeenMs: [],
      lastSeenMs: [],
      eventCount: [],
      startedMs: [],
      startedEventId: [],
      requestType: [],
      userId: [],
      progressCount: [],
      lastProgressMs: [],
      lastProgressEventId: [],
      lastProgress: [],
      terminalKind: [],
      endedMs: [],
      terminalEventId: [],
      success: [],
      errorCode: [],
      errorMessage: [],
      reportedMs: [],
    },
    samples: [],
  };
}

function pick(cumulative: number[], r: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < r) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function pickFailure(r: number): (typeof FAILURES)[number] {
  for (const failure of FAILURES) {
    if (r < failure[0]) return failure;
    r -= failure[0];
  }
  return FAILURES[0]!;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** A standard normal sample (Box-Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * UUIDv7-shaped ids (what the reporter client makes) for a given millisecond: the time, random
 * bits, and a counter in the last 8 hex digits, so no two ids of a data set collide.
 */
function uuidMaker(random: () => number): (ms: number) => string {
  let counter = 0;
  const hex = (value: number, digits: number) => Math.floor(value).toString(16).padStart(digits, "0");
  return (ms) => {
    const time = hex(ms, 12);
    const randA = hex(random() * 0x1000, 3);
    const variant = (8 + Math.floor(random() * 4)).toString(16);
    return `${time.slice(0, 8)}-${time.slice(8)}-7${randA}-${variant}${hex(random() * 0x1000, 3)}-${hex(random() * 0x10000, 4)}${hex(counter++ % 0x100000000, 8)}`;
  };
}
