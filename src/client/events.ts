/**
 * The reporter's typed events, emitted safely: a listener that throws, or an 'error' with no
 * listener, never turns into an exception in the reporter (or in the MCP code that called it).
 */
import { EventEmitter } from "node:events";
import type { InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import type { ReporterLogger } from "./logger.js";

/** Facts about a newly opened stream. */
export interface ConnectedInfo {
  streamId: string;
  /** The granted window. */
  maxInFlight: number;
  heartbeatIntervalMs: number;
  serverVersion: string;
  coordinatorInstance: string;
}

/** How a stream ended. */
export interface DisconnectedInfo {
  /** gRPC status name, e.g. "UNAVAILABLE"; "OK" after a clean half-close. */
  code: string;
  message: string;
}

/** A Drain frame from the coordinator. */
export interface DrainInfo {
  reason: string;
  reconnectAfterMs: number;
}

/** An event the coordinator rejected (it was written to the dead-letter file, if any). */
export interface RejectedInfo {
  eventId: string;
  reason: string;
  event: InteractionEvent;
}

/** Event names and their listener arguments. */
export interface ReporterEventMap {
  /** Something went wrong inside the reporter (never thrown at the caller). */
  error: [error: Error];
  rejected: [info: RejectedInfo];
  connected: [info: ConnectedInfo];
  disconnected: [info: DisconnectedInfo];
  drain: [info: DrainInfo];
}

/** Minimum time between two 'error' events of the same kind, so a persistent condition does not flood listeners. */
const ERROR_REPEAT_MS = 10_000;

/** A typed, throw-proof event emitter. */
export class ReporterEmitter {
  readonly #emitter = new EventEmitter();
  readonly #logger: ReporterLogger;
  readonly #lastError = new Map<string, number>();

  constructor(logger: ReporterLogger) {
    this.#logger = logger;
  }

  on<K extends keyof ReporterEventMap>(event: K, listener: (...args: ReporterEventMap[K]) => void): void {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
  }

  once<K extends keyof ReporterEventMap>(event: K, listener: (...args: ReporterEventMap[K]) => void): void {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
  }

  off<K extends keyof ReporterEventMap>(event: K, listener: (...args: ReporterEventMap[K]) => void): void {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
  }

  emit<K extends keyof ReporterEventMap>(event: K, ...args: ReporterEventMap[K]): void {
    // Node throws an 'error' emitted without a listener; the log line is enough then.
    if (event === "error" && this.#emitter.listenerCount("error") === 0) return;
    try {
      this.#emitter.emit(event, ...args);
    } catch (error) {
      this.#logger.error({ err: String(error), event }, "a reporter event listener threw; ignored");
    }
  }

  /**
   * Emits 'error' unless one with the same `key` was emitted within the last 10 s (the logger
   * still gets every occurrence at debug level).
   */
  emitError(error: Error, key = error.message): void {
    const now = Date.now();
    const last = this.#lastError.get(key);
    if (last !== undefined && now - last < ERROR_REPEAT_MS) return;
    if (this.#lastError.size > 100) this.#lastError.clear(); // keys are few; bound it anyway
    this.#lastError.set(key, now);
    this.emit("error", error);
  }
}
