/**
 * Durable delivery: every event goes to the spool (synchronously) and the outbox, the supervisor
 * streams it, and its ack removes it from both (a rejected one goes to the dead-letter file).
 * On start, the spool's pending events are queued before anything new.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Status } from "nice-grpc";
import { InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { DeadLetterFile } from "./dead-letter.js";
import type { ReporterEmitter } from "./events.js";
import { CLIENT_VERSION, type ResolvedOptions } from "./options.js";
import { Outbox, type OutboxEntry, type Outcome } from "./outbox.js";
import { Spool } from "./spool.js";
import { StreamSupervisor } from "./supervisor.js";
import type { ReporterStats } from "./types.js";

/** The delivery machinery of one enabled reporter. */
export class DeliveryPipeline {
  readonly #options: ResolvedOptions;
  readonly #emitter: ReporterEmitter;
  readonly #outbox = new Outbox();
  readonly #supervisor: StreamSupervisor;
  #spool: Spool | undefined;
  #deadLetter: DeadLetterFile | undefined;
  #closing: Promise<void> | undefined;
  readonly #counts = { acked: 0, stored: 0, duplicates: 0, rejected: 0, spoolDropped: 0, expired: 0, dropped: 0 };

  constructor(options: ResolvedOptions, emitter: ReporterEmitter) {
    this.#options = options;
    this.#emitter = emitter;
    this.#openSpool();
    this.#supervisor = new StreamSupervisor(
      options,
      {
        mcpId: options.mcpId ?? "",
        instanceId: options.instanceId,
        clientVersion: CLIENT_VERSION,
        maxInFlight: options.maxInFlight,
        metadata: options.metadata,
      },
      {
        takeNext: () => this.#takeNext(),
        giveBack: (entries) => this.#outbox.requeue(entries),
        onAck: (entry, status, reason) => this.#onAck(entry, status, reason),
      },
      {
        connected: (welcome) =>
          emitter.emit("connected", {
            streamId: welcome.streamId,
            maxInFlight: welcome.maxInFlight,
            heartbeatIntervalMs: welcome.heartbeatInterval ? durationMs(welcome.heartbeatInterval) : 0,
            serverVersion: welcome.serverVersion,
            coordinatorInstance: welcome.coordinatorInstance,
          }),
        disconnected: (end) => emitter.emit("disconnected", { code: Status[end.code] ?? String(end.code), message: end.message }),
        drain: (drain, reconnectAfterMs) => emitter.emit("drain", { reason: drain.reason, reconnectAfterMs }),
        problem: (error) => emitter.emitError(error),
      },
    );
    this.#supervisor.start();
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Spools (synchronously) and queues one event. Overflow policy: beyond maxSpoolBytes the event
   * is kept in memory only (counted in spoolDropped); beyond maxQueuedEvents in memory it is
   * dropped (counted in dropped). Both are reported via 'error' (at most every 10 s).
   */
  enqueue(event: InteractionEvent): void {
    if (this.#outbox.size >= this.#options.maxQueuedEvents) {
      this.#counts.dropped++;
      this.#options.logger.warn({ eventId: event.eventId, held: this.#outbox.size }, "reporter memory queue full; event dropped");
      this.#emitter.emitError(new Error(`reporter queue full (${this.#options.maxQueuedEvents} events): events are being dropped`), "queue-full");
      return;
    }
    const enqueuedAt = Date.now();
    // Encode now even without a spool: an event that cannot be serialized (a wrong-typed field)
    // must fail here, in the caller's try/catch, not later in the stream where it would end every
    // stream it is resent on.
    const payload = toBinary(InteractionEventSchema, event);
    if (this.#spool && !this.#spool.append({ eventId: event.eventId, enqueuedAt, payload })) {
      this.#counts.spoolDropped++;
      this.#options.logger.warn({ eventId: event.eventId, spool: this.#spool.path }, "spool full or unwritable; event kept in memory only");
      this.#emitter.emitError(new Error(`reporter spool ${this.#spool.path} is full or unwritable: new events are not crash-safe`), "spool-overflow");
    }
    this.#outbox.add(event.eventId, event, enqueuedAt);
    this.#supervisor.wake();
  }

  /** See Reporter.flush. */
  flush(timeoutMs: number): Promise<boolean> {
    return this.#outbox.flush(timeoutMs);
  }

  /** Resolves with the event's outcome, or "timeout". */
  waitFor(eventId: string, timeoutMs: number): Promise<Outcome> {
    return this.#outbox.waitFor(eventId, timeoutMs);
  }

  /** See Reporter.close. */
  close(timeoutMs: number): Promise<void> {
    this.#closing ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      const flushed = await this.#outbox.flush(timeoutMs);
      await this.#supervisor.close(Math.max(0, deadline - Date.now()));
      this.#outbox.releaseWaiters();
      const left = this.#outbox.size;
      const spooled = this.#spool?.stats().records ?? 0;
      if (!flushed || left > 0) {
        this.#options.logger.warn({ unacked: left, spooled }, "reporter closed with unacked events; spooled ones are sent on the next start");
      }
      this.#spool?.close();
    })();
    return this.#closing;
  }

  /** Current counters. */
  stats(): ReporterStats {
    const spool = this.#spool?.stats();
    const inFlight = this.#supervisor.inFlight;
    return {
      queued: Math.max(0, this.#outbox.size - inFlight),
      inFlight,
      ...this.#counts,
      spooled: spool?.records ?? 0,
      spoolBytes: spool?.bytes ?? 0,
      errors: 0, // counted by the reporter
      reconnects: this.#supervisor.reconnects,
      connected: this.#supervisor.connected,
    };
  }

  #openSpool(): void {
    const { spoolDir, logger } = this.#options;
    if (!spoolDir) return;
    try {
      const opened = Spool.open(spoolDir, this.#options.mcpId ?? "default", {
        maxBytes: this.#options.maxSpoolBytes,
        maxAgeMs: this.#options.maxSpoolAgeMs,
        logger,
      });
      if (!opened) {
        this.#deferError(new Error(`every spool file for this MCP in ${spoolDir} is locked by a live process: events are kept in memory only`));
        return;
      }
      const { spool, pending } = opened;
      this.#spool = spool;
      this.#deadLetter = new DeadLetterFile(`${spool.path}.dead`, this.#options.maxSpoolBytes, logger);
      const opening = spool.stats();
      this.#counts.expired += opening.expired;
      for (const record of pending) {
        let event: InteractionEvent;
        try {
          event = fromBinary(InteractionEventSchema, record.payload);
        } catch (error) {
          logger.warn({ eventId: record.eventId, err: String(error) }, "unreadable event in the spool; dropped");
          spool.remove(record.eventId);
          continue;
        }
        this.#outbox.add(record.eventId, event, record.enqueuedAt);
      }
      if (pending.length || opening.expired) {
        logger.info({ spool: spool.path, replayed: pending.length, expired: opening.expired }, "replaying spooled events");
      }
    } catch (error) {
      logger.error({ err: String(error), spoolDir }, "cannot open the spool; events are kept in memory only");
      this.#deferError(new Error(`cannot open the reporter spool in ${spoolDir}: ${(error as Error).message}`));
    }
  }

  /** Emits after createReporter returned, so listeners attached right after it hear it. */
  #deferError(error: Error): void {
    this.#options.logger.error({ err: error.message }, "reporter spool unavailable");
    process.nextTick(() => this.#emitter.emitError(error));
  }

  #takeNext(): OutboxEntry | undefined {
    const oldest = Date.now() - this.#options.maxSpoolAgeMs;
    for (;;) {
      const entry = this.#outbox.takeNext();
      if (!entry || entry.enqueuedAt >= oldest) return entry;
      // Too old to matter any more (maxSpoolAgeMs): give up on it rather than send it.
      this.#counts.expired++;
      this.#outbox.settle(entry.eventId, "dropped");
      this.#spool?.remove(entry.eventId);
    }
  }

  #onAck(entry: OutboxEntry, status: AckStatus, reason: string): void {
    this.#counts.acked++;
    let outcome: Outcome;
    if (status === AckStatus.STORED) {
      this.#counts.stored++;
      outcome = "stored";
    } else if (status === AckStatus.DUPLICATE) {
      this.#counts.duplicates++;
      outcome = "duplicate";
    } else {
      this.#counts.rejected++;
      outcome = "rejected";
      // Dead-letter first: a crash between the two leaves it spooled (resent, rejected again), never lost.
      this.#deadLetter?.write(entry.event, reason);
      this.#options.logger.warn({ eventId: entry.eventId, interactionId: entry.event.interactionId, reason }, "coordinator rejected an event");
      this.#emitter.emit("rejected", { eventId: entry.eventId, reason, event: entry.event });
    }
    this.#spool?.remove(entry.eventId);
    this.#outbox.settle(entry.eventId, outcome);
  }
}
