/**
 * Keeps one stream open for the reporter's whole life: opens a StreamConnection, and when it ends
 * decides, from how it ended, how long to wait before the next one.
 *
 * - UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, CANCELLED, UNKNOWN and anything unexpected:
 *   reconnect with exponential backoff and full jitter (respecting `grpc-retry-pushback-ms`).
 * - UNAUTHENTICATED, PERMISSION_DENIED: a revoked or wrong key is not fixed by retrying fast:
 *   keep retrying at about the maximum backoff, and surface an 'error' each time.
 * - INVALID_ARGUMENT, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNIMPLEMENTED: the client and server
 *   disagree on the protocol (a bug): log and report it, reconnect with backoff.
 * - OK after Drain: reconnect after Drain.reconnect_after plus a little jitter.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Status, type Channel } from "nice-grpc";
import type { HelloSchema, Welcome, Drain } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { fullJitter, sleep } from "./backoff.js";
import { createInteractionClient, openChannel, type InteractionClient } from "./channel.js";
import type { ReporterLogger } from "./logger.js";
import type { ResolvedOptions } from "./options.js";
import { StreamConnection, type ConnectionHooks, type StreamEnd } from "./stream-connection.js";

/** A stream that lived this long counts as healthy: the next failure starts the backoff afresh. */
const HEALTHY_STREAM_MS = 5_000;

/** What the supervisor reports to the reporter. */
export interface SupervisorEvents {
  connected(welcome: Welcome): void;
  disconnected(end: StreamEnd): void;
  drain(drain: Drain, reconnectAfterMs: number): void;
  /** A problem worth surfacing (auth failure, protocol bug). */
  problem(error: Error): void;
}

/** Owns the channel and the current stream. */
export class StreamSupervisor {
  readonly #options: ResolvedOptions;
  readonly #hooks: Omit<ConnectionHooks, "onWelcome" | "onDrain">;
  readonly #events: SupervisorEvents;
  readonly #logger: ReporterLogger;
  readonly #hello: MessageInitShape<typeof HelloSchema>;
  readonly #stop = new AbortController();
  #channel: Channel | undefined;
  #client: InteractionClient | undefined;
  #current: StreamConnection | undefined;
  #loop: Promise<void> | undefined;
  #reconnects = 0;

  constructor(
    options: ResolvedOptions,
    hello: MessageInitShape<typeof HelloSchema>,
    hooks: Omit<ConnectionHooks, "onWelcome" | "onDrain">,
    events: SupervisorEvents,
  ) {
    this.#options = options;
    this.#hello = hello;
    this.#hooks = hooks;
    this.#events = events;
    this.#logger = options.logger;
  }

  /** Streams opened after the first one. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Whether a stream is open (welcomed) right now. */
  get connected(): boolean {
    return this.#current?.open ?? false;
  }

  /** Events in flight on the current stream. */
  get inFlight(): number {
    return this.#current?.inFlight ?? 0;
  }

  /** Starts the connect loop (once). */
  start(): void {
    if (this.#loop) return;
    this.#channel = openChannel(this.#options);
    this.#client = createInteractionClient(this.#channel, this.#options.apiKey);
    this.#loop = this.#run().catch((error: unknown) => {
      // #run handles everything it expects; this is a last line of defence, never an unhandled rejection.
      this.#logger.error({ err: String(error) }, "reporter connect loop failed; reporting stopped");
      this.#events.problem(error instanceof Error ? error : new Error(String(error)));
    });
  }

  /** New events are waiting: send them if the stream has room. */
  wake(): void {
    this.#current?.pump();
  }

  /**
   * Stops: half-closes the current stream (the server acks what it has), waits up to `timeoutMs`
   * for it to end, then cancels it and closes the channel.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.#stop.signal.aborted) return this.#loop;
    this.#stop.abort();
    const current = this.#current;
    current?.halfClose();
    if (this.#loop) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(Math.max(0, timeoutMs || 0), 2 ** 31 - 1))));
      await Promise.race([this.#loop, timedOut]);
      clearTimeout(timer);
      this.#current?.abort();
      await this.#loop;
    }
    this.#channel?.close();
  }

  async #run(): Promise<void> {
    let attempt = 0;
    let first = true;
    while (!this.#stop.signal.aborted) {
      if (!first) this.#reconnects++;
      first = false;
      const connection = new StreamConnection(
        this.#client!,
        this.#hello,
        {
          ...this.#hooks,
          onWelcome: (welcome) => {
            this.#logger.info({ streamId: welcome.streamId, maxInFlight: welcome.maxInFlight, coordinator: welcome.coordinatorInstance }, "reporter stream open");
            this.#events.connected(welcome);
          },
          onDrain: (drain, after) => this.#events.drain(drain, after),
        },
        this.#logger,
      );
      this.#current = connection;
      const end = await connection.run();
      this.#current = undefined;
      if (end.welcomed) this.#events.disconnected(end);
      if (this.#stop.signal.aborted) break;

      if (end.welcomed && (end.acked > 0 || end.durationMs >= HEALTHY_STREAM_MS)) attempt = 0;
      const delayMs = this.#delayAfter(end, attempt);
      if (end.drainAfterMs === undefined) attempt++;
      this.#logger.debug({ code: Status[end.code], message: end.message, delayMs }, "reporter stream ended; reconnecting");
      await sleep(delayMs, this.#stop.signal);
    }
  }

  #delayAfter(end: StreamEnd, attempt: number): number {
    const { initialMs, maxMs } = this.#options.backoff;
    let delay: number;
    if (end.drainAfterMs !== undefined && (end.code === Status.OK || end.code === Status.UNAVAILABLE)) {
      // Drain: the server said when; a little jitter spreads the herd.
      delay = end.drainAfterMs + fullJitter(0, initialMs, maxMs);
    } else {
      switch (end.code) {
        case Status.UNAUTHENTICATED:
        case Status.PERMISSION_DENIED:
          this.#logger.error({ code: Status[end.code], message: end.message }, "coordinator refused the API key; retrying slowly");
          this.#events.problem(new Error(`coordinator refused the reporter's API key (${Status[end.code]}): ${end.message}`));
          delay = maxMs / 2 + fullJitter(0, maxMs / 2, maxMs / 2);
          break;
        case Status.INVALID_ARGUMENT:
        case Status.FAILED_PRECONDITION:
        case Status.RESOURCE_EXHAUSTED:
        case Status.UNIMPLEMENTED:
          this.#logger.error({ code: Status[end.code], message: end.message }, "coordinator ended the stream for a protocol error (a bug); reconnecting");
          this.#events.problem(new Error(`reporter stream ended with ${Status[end.code]}: ${end.message}`));
          delay = fullJitter(attempt, initialMs, maxMs);
          break;
        default:
          delay = fullJitter(attempt, initialMs, maxMs);
      }
    }
    // Never busy-loop: even a zero-jitter draw waits a little.
    return Math.max(delay, end.pushbackMs ?? 0, 10);
  }
}
