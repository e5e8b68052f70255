/**
 * The reporter's public interface.
 */
import type { CompletedDetail, FailedDetail, ProgressDetail, StartedDetail } from "./event-builder.js";
import type { ReporterEventMap } from "./events.js";

/** What a reporting call returns, at once. */
export interface ReportReceipt {
  /**
   * The event's id (a UUIDv7), or, when reporting is disabled, closed or the call failed
   * internally, an id-shaped value that identifies nothing stored.
   */
  eventId: string;
}

/** Options of {@link Reporter.track}. */
export interface TrackOptions<T> {
  /** Detail of the STARTED event (request type, user, parameters, session...). */
  started?: StartedDetail;
  /**
   * Detail of the COMPLETED event, or a function of fn's result that returns it. Measured
   * processing time and resource usage are filled in unless given here.
   */
  completed?: CompletedDetail | ((result: T) => CompletedDetail);
  /** Extra detail of the FAILED event (error_code, retryable...), merged over what the error gives. */
  failed?: FailedDetail | ((error: unknown) => FailedDetail);
}

/** Counters of one reporter (since it was created). */
export interface ReporterStats {
  /** Events waiting to be sent (not in flight). */
  queued: number;
  /** Events sent on the current stream and not yet acked. */
  inFlight: number;
  /** Acks received: stored + duplicates + rejected. */
  acked: number;
  /** Events the coordinator stored. */
  stored: number;
  /** Events the coordinator already had (resends after a reconnect or restart). */
  duplicates: number;
  /** Events the coordinator rejected (see the dead-letter file and the 'rejected' event). */
  rejected: number;
  /** Events currently persisted in the spool (not yet acked). */
  spooled: number;
  /** Size of the spool file in bytes. */
  spoolBytes: number;
  /** Events that could not be persisted (spool full or write failure); they were still sent from memory. */
  spoolDropped: number;
  /** Events dropped unsent because they were older than maxSpoolAgeMs. */
  expired: number;
  /** Events dropped because maxQueuedEvents were already held in memory. */
  dropped: number;
  /** Internal failures of reporting calls (bad arguments, say); each also emitted as 'error'. */
  errors: number;
  /** Streams opened after the first one. */
  reconnects: number;
  /** Whether a stream is open right now. */
  connected: boolean;
}

/**
 * Reports an MCP's interactions to the coordinator. Every method is safe to call at any time: none
 * throws, the reporting calls return at once (the event is spooled synchronously and sent in the
 * background), and after `close()` they are no-ops.
 */
export interface Reporter {
  /** The MCP started handling a request. */
  started(interactionId: string, detail?: StartedDetail): ReportReceipt;
  /** The MCP made progress on a request (any number of times). */
  progress(interactionId: string, detail?: ProgressDetail): ReportReceipt;
  /** The MCP finished a request (a success unless `detail.success` is false). */
  completed(interactionId: string, detail?: CompletedDetail): ReportReceipt;
  /**
   * The MCP gave up on a request. An Error gives error_type (its name), message, error_code (a
   * string `code` property) and data.stack; `detail` adds or overrides fields.
   */
  failed(interactionId: string, error: Error | FailedDetail, detail?: FailedDetail): ReportReceipt;
  /**
   * Reports STARTED, runs `fn`, then reports COMPLETED (or FAILED with the error) with processing
   * time, process CPU percent and RSS; returns fn's result or rethrows fn's error unchanged.
   * With `callBound` > 0, waits up to that long for the final event's ack before returning.
   */
  track<T>(interactionId: string, fn: () => T | Promise<T>, options?: TrackOptions<Awaited<T>>): Promise<Awaited<T>>;
  /**
   * Waits until every event reported before the call is acked.
   *
   * @param timeoutMs - how long to wait at most (default 10 s).
   * @returns true if everything was acked in time, false otherwise. Never rejects.
   */
  flush(timeoutMs?: number): Promise<boolean>;
  /**
   * Flushes (up to `timeoutMs`, default 10 s), then ends the stream, closes the channel and the
   * spool. Unacked events stay in the spool for the next start. Idempotent; never rejects.
   */
  close(timeoutMs?: number): Promise<void>;
  /** Current counters. */
  stats(): ReporterStats;
  /** Listens to a reporter event ('error', 'rejected', 'connected', 'disconnected', 'drain'). */
  on<K extends keyof ReporterEventMap>(event: K, listener: (...args: ReporterEventMap[K]) => void): this;
  /** Like `on`, for one occurrence. */
  once<K extends keyof ReporterEventMap>(event: K, listener: (...args: ReporterEventMap[K]) => void): this;
  /** Removes a listener. */
  off<K extends keyof ReporterEventMap>(event: K, listener: (...args: ReporterEventMap[K]) => void): this;
}
