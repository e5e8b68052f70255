/**
 * One StreamInteractions stream, protocol and all, independent of gRPC: Hello/Welcome, per-event
 * validation, seq and window checks, the hand-off to the group-commit writer, acks (grouped, with
 * an exact cumulative_seq), heartbeats, drain, and key re-checks.
 *
 * The session's output is an async iterable of response frames. Anything that must end the stream
 * (a protocol violation, silence, a revoked key, a drain that was not honoured, a database that
 * stayed down) fails that iterable with an IngestError, which the transport turns into a status.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { EventMetadata, InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import type {
  StreamInteractionsRequest,
  StreamInteractionsResponseSchema,
} from "../../gen/coordinator/v1/interaction_ingest_pb.js";
import type { Hello } from "../../gen/coordinator/v1/stream_frames_pb.js";
import type { IngestLimits } from "./limits.js";
import { Outbox } from "./outbox.js";
import { IngestError } from "./stream-end.js";
import { MCP_ID_PATTERN } from "../mcp-id.js";
import { checkEvent, type EventPolicy } from "./validate.js";
import { ackFor, applyMetadataDefaults, rejectionFor, type Ack } from "./acks.js";
import { DatabaseUnavailableError, type EventWriter } from "./writer-contract.js";
import type { IngestCounters } from "./counters.js";

type Response = MessageInitShape<typeof StreamInteractionsResponseSchema>;

/** Who is calling, as the session needs it. */
export interface StreamCaller {
  role: string;
  /** For mcp keys: the only MCP this stream may report for. */
  mcpId: string | undefined;
  keyId: string;
}

/** Where open streams are recorded (the registry), so ListMcps can show connections. */
export interface ConnectionTracker {
  streamOpened(c: { streamId: string; mcpId: string; instanceId: string; clientVersion: string }): Promise<void>;
  streamClosed(streamId: string): Promise<void>;
  touch(mcpId: string): void;
}

/**
 * What a session needs from the rest of the coordinator: the same for every stream, so one object
 * serves them all (an idle stream is counted in bytes).
 */
export interface SessionDeps {
  writer: EventWriter;
  connections: ConnectionTracker;
  counters: IngestCounters;
  limits: IngestLimits;
  /** The privacy policy, applied to every valid event before it is handed to the writer. */
  privacy: EventPolicy | undefined;
  coordinatorInstance: string;
  serverVersion: string;
  logger: Logger;
  /** Called once when a stream is over (normally, with an error, or cancelled). */
  onFinished?: (session: IngestSession) => void;
}

/** What is particular to one stream's caller. */
export interface StreamOptions {
  caller: StreamCaller;
  /** Re-validates the caller's key; rejects with an IngestError("unauthenticated") when it no longer works. */
  recheckKey: () => Promise<void>;
  /**
   * The encoding an event frame's event arrived in, when the transport knows it: stored as is
   * instead of encoding the event again.
   */
  receivedEventBytes?: ((frame: StreamInteractionsRequest) => Uint8Array | undefined) | undefined;
}

/** See the module comment. */
export class IngestSession {
  readonly streamId = randomUUID();
  readonly #deps: SessionDeps;
  readonly #caller: StreamCaller;
  readonly #recheckKey: StreamOptions["recheckKey"];
  readonly #receivedEventBytes: StreamOptions["receivedEventBytes"];
  readonly #out = new Outbox<Response>(() => this.#finished());
  #mcpId: string | undefined;
  #window = 0;
  #lastSeq = 0n;
  #inFlight = 0;
  #cumulative = 0n;
  // Made when first needed: most of an idle stream's life has no ack outstanding.
  #ackedAbove: Set<bigint> | undefined;
  #pendingAcks: Ack[] | undefined;
  #ackFlushScheduled = false;
  #metadata: EventMetadata | undefined;
  #halfClosed = false;
  #ended = false;
  #opened = false;
  // Liveness and housekeeping, driven by the SessionSweeper.
  lastReceivedAt = Date.now();
  lastKeyCheckAt = Date.now();
  readonly startedAt = Date.now();
  drainDeadline: number | undefined;

  constructor(deps: SessionDeps, stream: StreamOptions) {
    this.#deps = deps;
    this.#caller = stream.caller;
    this.#recheckKey = stream.recheckKey;
    this.#receivedEventBytes = stream.receivedEventBytes;
  }

  /** When the transport last took a response frame (ms since epoch); heartbeats go on silence. */
  get lastSentAt(): number {
    return this.#out.lastTakenAt;
  }

  /** The MCP this stream reports for (after Hello). */
  get mcpId(): string | undefined {
    return this.#mcpId;
  }

  /**
   * Runs the stream: starts consuming request frames, and returns the response frames. Their
   * iteration throws an IngestError when the stream must end with an error status.
   *
   * The outbox itself is returned, with no generator around it: each layer of async generators
   * would stay suspended for as long as the stream is open.
   */
  run(requests: AsyncIterable<StreamInteractionsRequest>): AsyncIterable<Response> {
    void this.#read(requests);
    return this.#out;
  }

  /** The reader of the response frames is done, however the stream ended. */
  async #finished(): Promise<void> {
    this.#ended = true;
    this.#deps.onFinished?.(this);
    if (this.#opened) {
      this.#deps.counters.openStreams--;
      await this.#deps.connections.streamClosed(this.streamId).catch(() => undefined);
    }
  }

  /** Ends the stream with `error` (or normally without one). Safe to call more than once. */
  end(error?: IngestError): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error) {
      this.#deps.logger.info({ streamId: this.streamId, mcpId: this.#mcpId, code: error.code, reason: error.message }, "ending ingest stream");
      this.#out.fail(error);
    } else {
      this.#out.close();
    }
  }

  /** Whether the stream has ended (or is ending). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Tells the client to move: it should half-close and reconnect after `reconnectAfterMs`. */
  drain(reason: string): void {
    if (this.#ended || this.drainDeadline !== undefined || !this.#opened) return;
    this.drainDeadline = Date.now() + this.#deps.limits.drainGraceMs;
    this.#out.push({ frame: { case: "drain", value: { reason, reconnectAfter: durationFromMs(this.#deps.limits.reconnectAfterMs) } } });
  }

  /** Sends a heartbeat frame (the sweeper calls this on an idle stream). */
  heartbeat(): void {
    if (this.#ended || !this.#opened) return;
    this.#out.push({ frame: { case: "heartbeat", value: { sentAt: timestampFromMs(Date.now()), cumulativeSeq: this.#cumulative } } });
  }

  /** Re-checks the key; ends the stream when it no longer works. */
  async recheckKey(): Promise<void> {
    this.lastKeyCheckAt = Date.now();
    try {
      await this.#recheckKey();
    } catch (error) {
      if (error instanceof IngestError) this.end(error);
      // Anything else (database hiccup): keep the stream, try again next time.
    }
  }

  /** Reads request frames until the stream ends; whatever it throws ends the stream. */
  async #read(requests: AsyncIterable<StreamInteractionsRequest>): Promise<void> {
    try {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || this.#ended) return this.end();
      this.lastReceivedAt = Date.now();
      if (first.value.frame.case !== "hello") {
        throw new IngestError("failed_precondition", `the first frame must be hello, not ${first.value.frame.case ?? "an empty frame"}`);
      }
      await this.#welcome(first.value.frame.value);
      for (;;) {
        // Stop reading while the writer is full: HTTP/2 flow control then slows the client down.
        if (!this.#deps.writer.hasCapacity()) await this.#deps.writer.waitForCapacity();
        if (this.#ended) return;
        const next = await iterator.next();
        if (this.#ended) return;
        if (next.done) return this.#halfClose();
        this.lastReceivedAt = Date.now();
        this.#onFrame(next.value);
      }
    } catch (error) {
      this.end(error instanceof IngestError ? error : new IngestError("unavailable", `stream failed: ${(error as Error).message}`));
    }
  }

  #onFrame(request: StreamInteractionsRequest): void {
    const frame = request.frame;
    switch (frame.case) {
      case "event":
        this.#onEvent(frame.value, this.#receivedEventBytes?.(request));
        break;
      case "heartbeat":
        break;
      case "hello":
        throw new IngestError("failed_precondition", "a second hello on the same stream");
      default:
        throw new IngestError("invalid_argument", "frame: empty (set hello, event or heartbeat)");
    }
  }

  async #welcome(hello: Hello): Promise<void> {
    const { limits } = this.#deps;
    const caller = this.#caller;
    let mcpId: string;
    if (caller.role === "mcp") {
      if (hello.mcpId !== "" && hello.mcpId !== caller.mcpId) {
        throw new IngestError("permission_denied", `hello.mcp_id "${hello.mcpId}" is not this key's MCP ("${caller.mcpId}")`);
      }
      mcpId = caller.mcpId!;
    } else {
      if (!MCP_ID_PATTERN.test(hello.mcpId)) {
        throw new IngestError("invalid_argument", "hello.mcp_id: required with a non-mcp key; 1-128 characters of [A-Za-z0-9._:-]");
      }
      mcpId = hello.mcpId;
    }
    this.#mcpId = mcpId;
    this.#window = Math.min(hello.maxInFlight || limits.defaultMaxInFlight, limits.maxInFlight);
    this.#metadata = hello.metadata;
    await this.#deps.connections.streamOpened({
      streamId: this.streamId,
      mcpId,
      instanceId: hello.instanceId.slice(0, 128),
      clientVersion: hello.clientVersion.slice(0, 128),
    });
    this.#opened = true;
    this.#deps.counters.openStreams++;
    this.#out.push({
      frame: {
        case: "welcome",
        value: {
          mcpId,
          streamId: this.streamId,
          maxInFlight: this.#window,
          heartbeatInterval: durationFromMs(limits.heartbeatIntervalMs),
          serverVersion: this.#deps.serverVersion,
          maxPayloadBytes: limits.maxPayloadBytes,
          coordinatorInstance: this.#deps.coordinatorInstance,
        },
      },
    });
  }

  #onEvent(event: InteractionEvent, received: Uint8Array | undefined): void {
    const { counters, limits } = this.#deps;
    counters.received++;
    if (event.seq !== this.#lastSeq + 1n) {
      throw new IngestError("invalid_argument", `seq: expected ${this.#lastSeq + 1n}, got ${event.seq} (seqs start at 1 and go up by one per event)`);
    }
    this.#lastSeq = event.seq;
    if (++this.#inFlight > this.#window) {
      throw new IngestError("resource_exhausted", `more than max_in_flight=${this.#window} events sent and not yet acked; wait for acks`);
    }
    this.#deps.connections.touch(this.#mcpId!);
    // Defaults filled in change the event, and then its received bytes no longer describe it.
    const changed = applyMetadataDefaults(event, this.#metadata);
    const checked = checkEvent(event, limits, Date.now(), changed ? undefined : received, this.#deps.privacy);
    if (!checked.ok) {
      this.#ack(rejectionFor(event, checked.reason, counters));
      return;
    }
    const [outcome] = this.#deps.writer.submit([{ mcpId: this.#mcpId!, event, streamId: this.streamId, payload: checked.payload }]);
    this.#deps.writer.kick();
    outcome!.then(
      (result) => this.#ack(ackFor(event, result, counters)),
      (error: unknown) => {
        if (error instanceof DatabaseUnavailableError) {
          this.end(new IngestError("unavailable", `${error.message}; reconnect and resend unacked events`, limits.reconnectAfterMs));
        } else {
          this.end(new IngestError("unavailable", `storing failed: ${(error as Error).message}`));
        }
      },
    );
  }

  #ack(ack: Ack): void {
    if (this.#ended) return;
    this.#inFlight--;
    (this.#pendingAcks ??= []).push(ack);
    if (ack.seq === this.#cumulative + 1n) {
      this.#cumulative = ack.seq;
      const above = this.#ackedAbove;
      if (above) {
        while (above.delete(this.#cumulative + 1n)) this.#cumulative++;
        if (above.size === 0) this.#ackedAbove = undefined;
      }
    } else {
      (this.#ackedAbove ??= new Set()).add(ack.seq);
    }
    // Acks resolved in the same turn (one batch commit) travel in one frame.
    if (!this.#ackFlushScheduled) {
      this.#ackFlushScheduled = true;
      setImmediate(() => this.#flushAcks());
    }
  }

  #flushAcks(): void {
    this.#ackFlushScheduled = false;
    const acks = this.#pendingAcks;
    if (this.#ended || !acks) return;
    this.#pendingAcks = undefined;
    this.#out.push({ frame: { case: "acks", value: { acks, cumulativeSeq: this.#cumulative } } });
    if (this.#halfClosed && this.#inFlight === 0) this.end();
  }

  #halfClose(): void {
    this.#halfClosed = true;
    // Every received event gets its ack before the stream ends normally.
    if (this.#inFlight === 0 && !this.#pendingAcks) this.end();
  }
}
