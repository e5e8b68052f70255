/**
 * Housekeeping for every open ingest stream, from one timer: heartbeats on idle streams, closing
 * silent ones (a frozen client must not hold resources), ending streams that ignored a Drain,
 * re-checking keys (revocation and expiry end streams), and rotating old streams.
 *
 * One timer for all streams rather than one per stream keeps an idle stream cheap.
 */
import type { IngestSession } from "./ingest-session.js";
import type { IngestLimits } from "./limits.js";
import { IngestError } from "./stream-end.js";

/** Sweeper options beyond the ingest limits. */
export interface SweeperOptions {
  /** Streams older than this are asked to reconnect (Drain), spreading clients across replicas (ms). */
  maxStreamAgeMs: number;
}

/** See the module comment. */
export class SessionSweeper {
  readonly #sessions = new Set<IngestSession>();
  readonly #limits: IngestLimits;
  readonly #options: SweeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #draining: string | undefined;

  constructor(limits: IngestLimits, options: SweeperOptions) {
    this.#limits = limits;
    this.#options = options;
  }

  /** Starts the timer. Its period is a quarter heartbeat, at most a second. */
  start(): void {
    const period = Math.max(10, Math.min(1_000, Math.floor(this.#limits.heartbeatIntervalMs / 4)));
    this.#timer = setInterval(() => this.sweep(Date.now()), period);
    this.#timer.unref();
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Adds a stream; during shutdown it is told to drain at once. */
  add(session: IngestSession): void {
    this.#sessions.add(session);
    if (this.#draining) session.drain(this.#draining);
  }

  /** Removes a finished stream. */
  remove(session: IngestSession): void {
    this.#sessions.delete(session);
  }

  /** Open streams. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Asks every stream (and every later one) to drain: shutdown has begun. */
  drainAll(reason: string): void {
    this.#draining = reason;
    for (const session of this.#sessions) session.drain(reason);
  }

  /** One round of housekeeping (public for tests). */
  sweep(now: number): void {
    const interval = this.#limits.heartbeatIntervalMs;
    const silentLimit = interval * this.#limits.silentIntervalsBeforeClose;
    // Heartbeat a little early, so one arrives within every interval despite the sweep period.
    const heartbeatDue = interval - Math.min(1_000, interval / 4);
    for (const session of this.#sessions) {
      if (session.ended) continue;
      if (now - session.lastReceivedAt > silentLimit) {
        session.end(new IngestError("deadline_exceeded", `nothing received for ${silentLimit} ms (${this.#limits.silentIntervalsBeforeClose} heartbeat intervals)`));
        continue;
      }
      if (session.drainDeadline !== undefined && now > session.drainDeadline) {
        session.end(new IngestError("unavailable", "drain not honoured in time; reconnect and resend unacked events", this.#limits.reconnectAfterMs));
        continue;
      }
      if (now - session.lastSentAt >= heartbeatDue) session.heartbeat();
      if (now - session.lastKeyCheckAt >= this.#limits.keyRecheckMs) void session.recheckKey();
      if (now - session.startedAt > this.#options.maxStreamAgeMs) session.drain("rotation: reconnect to spread load across replicas");
    }
  }
}
