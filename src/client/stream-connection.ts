/**
 * One StreamInteractions call, from Hello to its end: handshake, the send window, heartbeats,
 * acks and Drain. It knows nothing of retries: when the stream ends, `run()` resolves with how it
 * ended and the supervisor decides what next. Events it sent but did not get acked go back to the
 * outbox, to be resent (same event_id, new seq) on the next stream.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationMs, timestampNow } from "@bufbuild/protobuf/wkt";
import { isAbortError } from "abort-controller-x";
import { ClientError, Status } from "nice-grpc";
import type { StreamInteractionsRequestSchema } from "../../gen/coordinator/v1/interaction_ingest_pb.js";
import { AckStatus, type Drain, type EventAcks, type HelloSchema, type Welcome } from "../../gen/coordinator/v1/stream_frames_pb.js";
import type { InteractionClient } from "./channel.js";
import { FrameQueue } from "./frame-queue.js";
import type { ReporterLogger } from "./logger.js";
import type { OutboxEntry } from "./outbox.js";

type Frame = MessageInitShape<typeof StreamInteractionsRequestSchema>;

/** How long to wait for Welcome after opening the stream before giving up on it. */
const WELCOME_TIMEOUT_MS = 15_000;
/** Server's heartbeat interval when Welcome does not say (the documented default). */
const DEFAULT_HEARTBEAT_MS = 10_000;
/** After Drain, how long to wait for the acks of events in flight before half-closing anyway. */
const DRAIN_WAIT_MS = 10_000;

/** What the connection needs from its owner. */
export interface ConnectionHooks {
  /** The next event to send, or undefined if none is waiting. */
  takeNext(): OutboxEntry | undefined;
  /** Events sent on this stream and not acked when it ended; to be resent. */
  giveBack(entries: Iterable<OutboxEntry>): void;
  /** One event's ack (its entry was in flight on this stream). */
  onAck(entry: OutboxEntry, status: AckStatus, reason: string): void;
  onWelcome(welcome: Welcome): void;
  onDrain(drain: Drain, reconnectAfterMs: number): void;
}

/** How a stream ended. */
export interface StreamEnd {
  /** Whether the server answered Hello (the stream was really open). */
  welcomed: boolean;
  /** Acks received on this stream. */
  acked: number;
  /** The final status; OK after a clean half-close. Local aborts map to CANCELLED / DEADLINE_EXCEEDED. */
  code: Status;
  message: string;
  /** Set when the server sent Drain: wait this long before reconnecting. */
  drainAfterMs: number | undefined;
  /** The server's `grpc-retry-pushback-ms` trailer, if any. */
  pushbackMs: number | undefined;
  /** How long the stream lived, in ms. */
  durationMs: number;
}

/** One stream's lifecycle. */
export class StreamConnection {
  readonly #client: InteractionClient;
  readonly #hello: MessageInitShape<typeof HelloSchema>;
  readonly #hooks: ConnectionHooks;
  readonly #logger: ReporterLogger;
  readonly #frames = new FrameQueue<Frame>();
  readonly #abort = new AbortController();
  readonly #inFlight = new Map<number, OutboxEntry>();
  #abortCode: Status = Status.CANCELLED;
  #abortMessage = "closed by the client";
  #welcomed = false;
  #window = 0;
  #heartbeatMs = DEFAULT_HEARTBEAT_MS;
  #lastSeq = 0;
  #lastSentAt = Date.now();
  #lastReceivedAt = Date.now();
  #draining = false;
  #drainAfterMs: number | undefined;
  #acked = 0;
  #timers: NodeJS.Timeout[] = [];

  constructor(client: InteractionClient, hello: MessageInitShape<typeof HelloSchema>, hooks: ConnectionHooks, logger: ReporterLogger) {
    this.#client = client;
    this.#hello = hello;
    this.#hooks = hooks;
    this.#logger = logger;
  }

  /** Events sent on this stream and not yet acked. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Whether Welcome arrived and the stream has not ended. */
  get open(): boolean {
    return this.#welcomed && !this.#frames.ended;
  }

  /** Runs the stream until it ends. Never rejects. */
  async run(): Promise<StreamEnd> {
    const startedAt = Date.now();
    let code: Status = Status.OK;
    let message = "";
    let pushbackMs: number | undefined;
    this.#send({ frame: { case: "hello", value: this.#hello } });
    this.#timer(setTimeout(() => {
      if (!this.#welcomed) this.abort(Status.DEADLINE_EXCEEDED, `no Welcome within ${WELCOME_TIMEOUT_MS} ms`);
    }, WELCOME_TIMEOUT_MS));
    try {
      const responses = this.#client.streamInteractions(this.#frames, {
        signal: this.#abort.signal,
        onTrailer: (trailer) => {
          const value = Number(trailer.get("grpc-retry-pushback-ms"));
          if (Number.isFinite(value) && value > 0) pushbackMs = value;
        },
      });
      for await (const response of responses) {
        this.#lastReceivedAt = Date.now();
        const frame = response.frame;
        if (!this.#welcomed && frame.case !== "welcome") {
          this.abort(Status.INTERNAL, `protocol error: first frame from the server is ${frame.case ?? "empty"}, not welcome`);
          break;
        }
        switch (frame.case) {
          case "welcome":
            this.#onWelcome(frame.value);
            break;
          case "acks":
            this.#onAcks(frame.value);
            break;
          case "drain":
            this.#onDrain(frame.value);
            break;
          case "heartbeat":
            break; // receiving it already counted as a sign of life
          default:
            this.#logger.debug({ frame: frame.case }, "ignoring an unknown frame from the coordinator");
        }
      }
      if (this.#abort.signal.aborted) {
        code = this.#abortCode;
        message = this.#abortMessage;
      }
    } catch (error) {
      if (error instanceof ClientError) {
        code = error.code;
        message = error.details;
      } else if (isAbortError(error) || this.#abort.signal.aborted) {
        code = this.#abortCode;
        message = this.#abortMessage;
      } else {
        code = Status.UNKNOWN;
        message = error instanceof Error ? error.message : String(error);
      }
    } finally {
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers = [];
      this.#frames.discard();
      if (!this.#abort.signal.aborted) this.#abort.abort(); // ends the call if we left the loop early
      this.#hooks.giveBack(this.#inFlight.values());
      this.#inFlight.clear();
    }
    return {
      welcomed: this.#welcomed,
      acked: this.#acked,
      code,
      message,
      drainAfterMs: this.#drainAfterMs,
      pushbackMs,
      durationMs: Date.now() - startedAt,
    };
  }

  /** Sends waiting events while the window has room. Call when new events were queued. */
  pump(): void {
    if (!this.#welcomed || this.#draining || this.#frames.ended) return;
    while (this.#inFlight.size < this.#window) {
      const entry = this.#hooks.takeNext();
      if (!entry) break;
      const seq = ++this.#lastSeq;
      this.#inFlight.set(seq, entry);
      // A shallow copy with this stream's seq: the stored event stays seq-free for other streams.
      this.#send({ frame: { case: "event", value: { ...entry.event, seq: BigInt(seq) } } });
    }
  }

  /**
   * Stops sending new events and half-closes once the events in flight are acked (or at once if
   * none are): the server then acks what it has and ends the stream with OK.
   */
  halfClose(): void {
    this.#draining = true;
    this.#maybeFinishDrain();
  }

  /** Ends the stream now; unacked events go back to the outbox. */
  abort(code: Status = Status.CANCELLED, message = "closed by the client"): void {
    if (this.#abort.signal.aborted) return;
    this.#abortCode = code;
    this.#abortMessage = message;
    this.#abort.abort();
  }

  #onWelcome(welcome: Welcome): void {
    if (this.#welcomed) {
      this.abort(Status.INTERNAL, "protocol error: a second Welcome");
      return;
    }
    this.#welcomed = true;
    const requested = Number(this.#hello.maxInFlight ?? 0);
    // Never more than granted; a server granting 0 would stall us, so at least 1.
    this.#window = Math.max(1, requested > 0 ? Math.min(requested, welcome.maxInFlight) : welcome.maxInFlight);
    const interval = welcome.heartbeatInterval ? durationMs(welcome.heartbeatInterval) : 0;
    this.#heartbeatMs = interval > 0 ? interval : DEFAULT_HEARTBEAT_MS;
    // Check a few times per interval; unref'd so an idle stream's timer never keeps the process up.
    const tick = setInterval(() => this.#tick(), Math.max(50, Math.floor(this.#heartbeatMs / 4)));
    tick.unref();
    this.#timers.push(tick);
    this.#hooks.onWelcome(welcome);
    this.pump();
  }

  #onAcks(frame: EventAcks): void {
    for (const ack of frame.acks) {
      const seq = Number(ack.seq);
      const entry = this.#inFlight.get(seq);
      if (!entry || entry.eventId !== ack.eventId) {
        this.#logger.warn({ seq, eventId: ack.eventId }, "ack for an event not in flight on this stream; ignored");
        continue;
      }
      this.#inFlight.delete(seq);
      this.#acked++;
      if (ack.status === AckStatus.STORED || ack.status === AckStatus.DUPLICATE || ack.status === AckStatus.REJECTED) {
        this.#hooks.onAck(entry, ack.status, ack.reason);
      } else {
        // Not an outcome we know: keep the event and resend it later (dedupe makes that safe).
        this.#logger.warn({ seq, eventId: ack.eventId, status: ack.status }, "ack with an unknown status; will resend");
        this.#hooks.giveBack([entry]);
      }
    }
    if (this.#draining) this.#maybeFinishDrain();
    else this.pump();
  }

  #onDrain(drain: Drain): void {
    const reconnectAfterMs = drain.reconnectAfter ? Math.max(0, durationMs(drain.reconnectAfter)) : 0;
    this.#drainAfterMs = reconnectAfterMs;
    this.#logger.info({ reason: drain.reason, reconnectAfterMs, inFlight: this.#inFlight.size }, "coordinator asked to drain the stream");
    this.#hooks.onDrain(drain, reconnectAfterMs);
    this.#draining = true;
    // Do not wait forever for acks of a server going away: its grace period is its business.
    this.#timer(setTimeout(() => this.#frames.end(), DRAIN_WAIT_MS));
    this.#maybeFinishDrain();
  }

  #maybeFinishDrain(): void {
    if (this.#inFlight.size === 0) this.#frames.end();
  }

  #tick(): void {
    const now = Date.now();
    if (now - this.#lastReceivedAt >= 3 * this.#heartbeatMs) {
      this.abort(Status.DEADLINE_EXCEEDED, `coordinator silent for ${now - this.#lastReceivedAt} ms (3 heartbeat intervals)`);
      return;
    }
    if (!this.#frames.ended && now - this.#lastSentAt >= this.#heartbeatMs * 0.9) {
      this.#send({ frame: { case: "heartbeat", value: { sentAt: timestampNow(), lastSentSeq: BigInt(this.#lastSeq) } } });
    }
  }

  #send(frame: Frame): void {
    this.#lastSentAt = Date.now();
    this.#frames.push(frame);
  }

  #timer(timer: NodeJS.Timeout): void {
    timer.unref();
    this.#timers.push(timer);
  }
}
