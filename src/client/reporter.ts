/**
 * `createReporter`: what MCP authors call. Builds events, hands them to the delivery pipeline, and
 * makes sure nothing it does can throw into, or block, the MCP's own code.
 */
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { buildEvent, describeThrown, type CompletedDetail, type FailedDetail, type ProgressDetail, type StartedDetail } from "./event-builder.js";
import { ReporterEmitter, type ReporterEventMap } from "./events.js";
import { resolveOptions, type ResolvedOptions, type ReporterOptions } from "./options.js";
import { DeliveryPipeline } from "./pipeline.js";
import type { ReportReceipt, Reporter, ReporterStats, TrackOptions } from "./types.js";
import { startUsage } from "./usage.js";
import { uuidv7 } from "./uuidv7.js";

const DEFAULT_FLUSH_MS = 10_000;

/**
 * Creates a reporter: opens (and replays) the spool, then keeps a stream to the coordinator open
 * in the background until `close()`.
 *
 * Delivery: each event is appended to the spool file before the call returns, sent with a UUIDv7
 * event id, and removed from the spool once the coordinator acks it; on the next start, the spool's
 * unacked events are sent again first (the coordinator's dedupe makes resends harmless).
 *
 * Overflow policy: when the spool file would exceed `maxSpoolBytes` (even after compaction), a new
 * event is still sent from memory but not persisted (`stats().spoolDropped`, an 'error' event at
 * most every 10 s): it is lost only if the process dies before it is acked. When `maxQueuedEvents`
 * events are already held in memory, new events are dropped (`stats().dropped`, 'error'). Events
 * older than `maxSpoolAgeMs` are dropped instead of sent (`stats().expired`).
 *
 * Process lifetime: the open stream keeps the process alive until `close()` (as any open
 * connection does); retry and heartbeat timers do not.
 *
 * @throws ReporterOptionsError for invalid options (the only time the reporter throws).
 */
export function createReporter(options: ReporterOptions): Reporter {
  const resolved = resolveOptions(options);
  return resolved.enabled ? new ActiveReporter(resolved) : new DisabledReporter();
}

class ActiveReporter implements Reporter {
  readonly #options: ResolvedOptions;
  readonly #emitter: ReporterEmitter;
  readonly #pipeline: DeliveryPipeline;
  #errors = 0;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#emitter = new ReporterEmitter(options.logger);
    this.#pipeline = new DeliveryPipeline(options, this.#emitter);
  }

  started(interactionId: string, detail?: StartedDetail): ReportReceipt {
    return this.#report(interactionId, { kind: EventKind.STARTED, detail });
  }

  progress(interactionId: string, detail?: ProgressDetail): ReportReceipt {
    return this.#report(interactionId, { kind: EventKind.PROGRESS, detail });
  }

  completed(interactionId: string, detail?: CompletedDetail): ReportReceipt {
    return this.#report(interactionId, { kind: EventKind.COMPLETED, detail });
  }

  failed(interactionId: string, error: Error | FailedDetail, detail?: FailedDetail): ReportReceipt {
    let merged: FailedDetail | undefined;
    try {
      merged = { ...(error instanceof Error ? describeThrown(error) : error), ...detail };
    } catch {
      merged = detail;
    }
    return this.#report(interactionId, { kind: EventKind.FAILED, detail: merged });
  }

  async track<T>(interactionId: string, fn: () => T | Promise<T>, options: TrackOptions<Awaited<T>> = {}): Promise<Awaited<T>> {
    this.started(interactionId, options.started);
    const measure = startUsage();
    let result: Awaited<T>;
    try {
      result = await fn();
    } catch (thrown) {
      const receipt = this.#reportFailure(interactionId, thrown, options, measure);
      await this.#bound(receipt);
      throw thrown; // the MCP's own error, unchanged
    }
    const receipt = this.#reportCompletion(interactionId, result, options, measure);
    await this.#bound(receipt);
    return result;
  }

  flush(timeoutMs = DEFAULT_FLUSH_MS): Promise<boolean> {
    return this.#pipeline.flush(timeoutMs).catch(() => false);
  }

  close(timeoutMs = DEFAULT_FLUSH_MS): Promise<void> {
    return this.#pipeline.close(timeoutMs).catch((error: unknown) => {
      this.#options.logger.error({ err: String(error) }, "error while closing the reporter");
    });
  }

  stats(): ReporterStats {
    return { ...this.#pipeline.stats(), errors: this.#errors };
  }

  on<K extends keyof ReporterEventMap>(event: K, listener: (...args: ReporterEventMap[K]) => void): this {
    this.#emitter.on(event, listener);
    return this;
  }

  once<K extends keyof ReporterEventMap>(event: K, listener: (...args: ReporterEventMap[K]) => void): this {
    this.#emitter.once(event, listener);
    return this;
  }

  off<K extends keyof ReporterEventMap>(event: K, listener: (...args: ReporterEventMap[K]) => void): this {
    this.#emitter.off(event, listener);
    return this;
  }

  /** Builds, spools and queues one event; on any internal failure counts, logs and emits it instead of throwing. */
  #report(interactionId: string, input: Parameters<typeof buildEvent>[2]): ReportReceipt {
    const eventId = uuidv7();
    if (this.#pipeline.closed) return { eventId };
    try {
      this.#pipeline.enqueue(buildEvent(eventId, interactionId, input, this.#options.metadata));
    } catch (error) {
      this.#errors++;
      const message = `reporting ${EventKind[input.kind]} for interaction ${String(interactionId)} failed: ${(error as Error)?.message ?? String(error)}`;
      this.#options.logger.error({ interactionId, err: String(error) }, "reporting call failed");
      this.#emitter.emit("error", new Error(message, { cause: error }));
    }
    return { eventId };
  }

  #reportCompletion<T>(interactionId: string, result: T, options: TrackOptions<T>, measure: () => ReturnType<ReturnType<typeof startUsage>>): ReportReceipt {
    const usage = measure();
    let extra: CompletedDetail | undefined;
    try {
      extra = typeof options.completed === "function" ? options.completed(result) : options.completed;
    } catch (error) {
      this.#noteCallbackError("completed", error);
    }
    return this.completed(interactionId, {
      processingTimeMs: usage.elapsedMs,
      resourceUsage: { cpuPercent: usage.cpuPercent, memoryMb: usage.memoryMb },
      ...extra,
    });
  }

  #reportFailure<T>(interactionId: string, thrown: unknown, options: TrackOptions<T>, measure: () => ReturnType<ReturnType<typeof startUsage>>): ReportReceipt {
    const usage = measure();
    let extra: FailedDetail | undefined;
    try {
      extra = typeof options.failed === "function" ? options.failed(thrown) : options.failed;
    } catch (error) {
      this.#noteCallbackError("failed", error);
    }
    let described: FailedDetail = {};
    try {
      described = describeThrown(thrown);
    } catch {
      // A hostile thrown value (a getter that throws, say): report the failure without its details.
    }
    return this.#report(interactionId, {
      kind: EventKind.FAILED,
      detail: {
        ...described,
        processingTimeMs: usage.elapsedMs,
        resourceUsage: { cpuPercent: usage.cpuPercent, memoryMb: usage.memoryMb },
        ...extra,
      },
    });
  }

  #noteCallbackError(which: string, error: unknown): void {
    this.#errors++;
    this.#options.logger.warn({ err: String(error) }, `track() ${which} callback threw; reporting without its detail`);
    this.#emitter.emit("error", new Error(`track() ${which} callback threw: ${String(error)}`, { cause: error }));
  }

  /** With callBound > 0: wait (at most that long) for the event's ack. */
  async #bound(receipt: ReportReceipt): Promise<void> {
    if (this.#options.callBound <= 0 || this.#pipeline.closed) return;
    await this.#pipeline.waitFor(receipt.eventId, this.#options.callBound).catch(() => undefined);
  }
}

/** `enabled: false`: every call succeeds and does nothing; no files, no network. */
class DisabledReporter implements Reporter {
  started(): ReportReceipt {
    return { eventId: uuidv7() };
  }
  progress(): ReportReceipt {
    return { eventId: uuidv7() };
  }
  completed(): ReportReceipt {
    return { eventId: uuidv7() };
  }
  failed(): ReportReceipt {
    return { eventId: uuidv7() };
  }
  async track<T>(_interactionId: string, fn: () => T | Promise<T>): Promise<Awaited<T>> {
    return await fn();
  }
  flush(): Promise<boolean> {
    return Promise.resolve(true);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  stats(): ReporterStats {
    return { queued: 0, inFlight: 0, acked: 0, stored: 0, duplicates: 0, rejected: 0, spooled: 0, spoolBytes: 0, spoolDropped: 0, expired: 0, dropped: 0, errors: 0, reconnects: 0, connected: false };
  }
  on(): this {
    return this;
  }
  once(): this {
    return this;
  }
  off(): this {
    return this;
  }
}
