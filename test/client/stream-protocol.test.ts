/**
 * The reporter's side of the StreamInteractions protocol, against a scripted fake coordinator (no
 * database): window, seq numbering, heartbeats, a silent server, Drain, resend after reconnect,
 * and a refused key.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { createServer, ServerError, Status, type Server } from "nice-grpc";
import type { StreamInteractionsRequest, StreamInteractionsResponseSchema } from "../../gen/coordinator/v1/interaction_ingest_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { FrameQueue } from "../../src/client/frame-queue.js";
import { createReporter, type Reporter, type ReporterOptions } from "../../src/client/index.js";
import { toNiceDefinition } from "../../src/transport/definition.js";
import { unimplementedHandlers } from "../../src/transport/unimplemented.js";
import { waitFor } from "../support/database.js";

type Response = MessageInitShape<typeof StreamInteractionsResponseSchema>;

/** The server side of one scripted stream. */
interface FakeStream {
  index: number;
  openedAt: number;
  received: StreamInteractionsRequest[];
  halfClosed: boolean;
  /** Called for every frame the client sends. */
  onFrame?: (frame: StreamInteractionsRequest) => void;
  send(frame: Response["frame"]): void;
  /** Ends the call: OK, or with `error`. */
  finish(error?: Error): void;
  /** The event frames received, as [seq, eventId]. */
  events(): [number, string][];
  ack(seq: number, eventId: string, status?: AckStatus): void;
}

async function fakeCoordinator(onStream: (stream: FakeStream) => void) {
  const streams: FakeStream[] = [];
  const server: Server = createServer();
  const handlers = {
    async *streamInteractions(requests: AsyncIterable<StreamInteractionsRequest>, context: { signal: AbortSignal }) {
      const out = new FrameQueue<Response>();
      let failure: Error | undefined;
      const stream: FakeStream = {
        index: streams.length,
        openedAt: Date.now(),
        received: [],
        halfClosed: false,
        send: (frame) => out.push({ frame }),
        finish: (error) => {
          failure = error;
          out.end();
        },
        events: () => stream.received.flatMap((r) => (r.frame.case === "event" ? [[Number(r.frame.value.seq), r.frame.value.eventId] as [number, string]] : [])),
        ack: (seq, eventId, status = AckStatus.STORED) =>
          stream.send({ case: "acks", value: { acks: [{ seq: BigInt(seq), eventId, status }], cumulativeSeq: 0n } }),
      };
      streams.push(stream);
      context.signal.addEventListener("abort", () => out.end());
      void (async () => {
        try {
          for await (const request of requests) {
            stream.received.push(request);
            stream.onFrame?.(request);
          }
          stream.halfClosed = true;
        } catch {
          // cancelled
        }
      })();
      onStream(stream);
      for await (const frame of out) yield frame;
      if (failure) throw failure;
    },
  };
  // Only StreamInteractions is scripted; the reporter calls nothing else.
  server.add(toNiceDefinition(InteractionService), { ...unimplementedHandlers(InteractionService, () => "never"), ...handlers } as never);
  const port = await server.listen("127.0.0.1:0");
  return { address: `127.0.0.1:${port}`, streams, close: () => server.forceShutdown() };
}

function welcome(maxInFlight: number, heartbeatMs = 10_000): Response["frame"] {
  return { case: "welcome", value: { streamId: "s", maxInFlight, heartbeatInterval: durationFromMs(heartbeatMs) } };
}

describe("reporter stream protocol (fake coordinator)", function () {
  this.timeout(20_000);
  const reporters: Reporter[] = [];
  const servers: { close(): void }[] = [];

  afterEach(async () => {
    for (const reporter of reporters.splice(0)) await reporter.close(500);
    for (const server of servers.splice(0)) server.close();
  });

  function reporter(address: string, extra: Partial<ReporterOptions> = {}): Reporter {
    const created = createReporter({ address, apiKey: "k", spoolDir: false, backoff: { initialMs: 20, maxMs: 200 }, ...extra });
    reporters.push(created);
    return created;
  }

  it("numbers events 1, 2, 3... and never has more than the granted window unacked", async () => {
    let outstanding: [number, string][] = [];
    let maxOutstanding = 0;
    const fake = await fakeCoordinator((stream) => {
      stream.send(welcome(3));
      stream.onFrame = (frame) => {
        if (frame.frame.case !== "event") return;
        outstanding.push([Number(frame.frame.value.seq), frame.frame.value.eventId]);
        maxOutstanding = Math.max(maxOutstanding, outstanding.length);
        if (outstanding.length === 3) {
          const batch = outstanding;
          outstanding = [];
          // Ack later, so a client ignoring the window would have sent more by then.
          setTimeout(() => batch.forEach(([seq, id]) => stream.ack(seq, id)), 30);
        }
      };
    });
    servers.push(fake);
    const r = reporter(fake.address, { maxInFlight: 5 });
    const ids = Array.from({ length: 9 }, (_, i) => r.started(`w-${i}`).eventId);
    expect(await r.flush(5_000)).to.equal(true);
    const events = fake.streams[0]!.events();
    expect(events.map(([seq]) => seq)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(events.map(([, id]) => id)).to.deep.equal(ids);
    expect(maxOutstanding).to.equal(3);
    expect(fake.streams[0]!.received[0]!.frame.case).to.equal("hello");
    expect(fake.streams[0]!.received[0]!.frame.value).to.include({ maxInFlight: 5 });
  });

  it("sends heartbeats when idle, drops a silent server after 3 intervals, and resends unacked events with new seqs", async () => {
    const fake = await fakeCoordinator((stream) => {
      if (stream.index === 0) {
        stream.send(welcome(10, 100)); // then silence
        return;
      }
      stream.send(welcome(10));
      stream.onFrame = (frame) => {
        if (frame.frame.case === "event") stream.ack(Number(frame.frame.value.seq), frame.frame.value.eventId);
      };
    });
    servers.push(fake);
    const r = reporter(fake.address);
    const ids = [r.started("hb-1").eventId, r.started("hb-2").eventId];
    await waitFor(() => fake.streams.length >= 2, { message: "a second stream after the silent one" });
    const first = fake.streams[0]!;
    const heartbeats = first.received.filter((f) => f.frame.case === "heartbeat");
    expect(heartbeats.length).to.be.at.least(2);
    const lastHeartbeat = heartbeats.at(-1)!.frame;
    if (lastHeartbeat.case === "heartbeat") expect(lastHeartbeat.value.lastSentSeq).to.equal(2n);
    const silentFor = fake.streams[1]!.openedAt - first.openedAt;
    expect(silentFor).to.be.within(280, 2_000);
    expect(await r.flush(5_000)).to.equal(true);
    expect(fake.streams[1]!.events()).to.deep.equal([[1, ids[0]], [2, ids[1]]]);
    expect(r.stats().reconnects).to.be.at.least(1);
  });

  it("on Drain: sends nothing new, waits for acks in flight, half-closes, reconnects after reconnect_after", async () => {
    let drainedAt = 0;
    const fake = await fakeCoordinator((stream) => {
      stream.send(welcome(10));
      stream.onFrame = (frame) => {
        if (frame.frame.case !== "event") return;
        const { seq, eventId } = frame.frame.value;
        if (stream.index === 0) {
          drainedAt = Date.now();
          stream.send({ case: "drain", value: { reason: "rotation", reconnectAfter: durationFromMs(200) } });
          setTimeout(() => stream.ack(Number(seq), eventId), 100);
        } else {
          stream.ack(Number(seq), eventId);
        }
      };
    });
    servers.push(fake);
    const r = reporter(fake.address);
    const drains: number[] = [];
    r.on("drain", (info) => drains.push(info.reconnectAfterMs));
    const firstId = r.started("d-0").eventId;
    await waitFor(() => drainedAt > 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const later = [r.started("d-1").eventId, r.started("d-2").eventId];
    await waitFor(() => fake.streams[0]!.halfClosed, { message: "half-close after the in-flight ack" });
    fake.streams[0]!.finish();
    expect(await r.flush(5_000)).to.equal(true);
    expect(fake.streams[0]!.events().map(([, id]) => id)).to.deep.equal([firstId]);
    expect(fake.streams[1]!.events()).to.deep.equal([[1, later[0]], [2, later[1]]]);
    expect(fake.streams[1]!.openedAt - drainedAt).to.be.at.least(200);
    expect(drains).to.deep.equal([200]);
  });

  it("on UNAUTHENTICATED: emits 'error' and retries slowly, not at the fast backoff", async () => {
    const fake = await fakeCoordinator((stream) => stream.finish(new ServerError(Status.UNAUTHENTICATED, "API key revoked")));
    servers.push(fake);
    const errors: Error[] = [];
    const r = reporter(fake.address, { backoff: { initialMs: 5, maxMs: 400 } });
    r.on("error", (error) => errors.push(error));
    r.started("auth");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(errors.length).to.be.at.least(1);
    expect(errors[0]!.message).to.contain("UNAUTHENTICATED").and.contain("API key revoked");
    // Waits of 200-400 ms: at most 6 attempts in a second (fast backoff from 5 ms would make many more).
    expect(fake.streams.length).to.be.within(2, 6);
    expect(r.stats()).to.include({ queued: 1, connected: false });
  });
});
