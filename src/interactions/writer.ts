/**
 * The group-commit writer: every stream and ReportInteractions call hands its events here; the
 * writer stores them in batches, one transaction (one statement) each, and resolves each event's
 * promise only after the transaction that holds it has committed. That is what makes an ack mean
 * "durable".
 *
 * Batching is natural: while a batch commits, new events queue up, and the next batch takes them
 * all (up to maxBatch). Events wait at most maxDelayMs for company when the writer is idle.
 *
 * Failures: a batch that fails for a connection or server reason is retried (after a backoff) as a
 * whole; dedupe makes a retry of a batch that did commit harmless (its events come back as
 * duplicates). After retryForMs of failing, the batch's events are rejected with
 * DatabaseUnavailableError (no ack; the client resends later). A batch refused for its data (a
 * value Postgres cannot store) is split until the offending events are isolated; only they are
 * rejected, the others are stored.
 */
import { toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { InteractionEventSchema } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { contributionOf } from "./summary.js";
import { DatabaseUnavailableError, type EventWriter, type WriteItem, type WriteOutcome, type WriterOptions, type WriterStats } from "./writer-contract.js";
import { eventKey, storeBatch, type EventRow } from "./writer-queries.js";

interface Pending {
  item: WriteItem;
  resolve: (outcome: WriteOutcome) => void;
  reject: (error: Error) => void;
  queuedAt: number;
}

const DEFAULTS: Required<WriterOptions> = {
  maxBatch: 1_000,
  maxDelayMs: 1,
  concurrency: 2,
  maxQueued: 20_000,
  retryForMs: 30_000,
  onCommit: () => undefined,
  announce: () => false,
  queueRollups: true,
};

/** See the module comment. */
export class GroupCommitWriter implements EventWriter {
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #options: Required<WriterOptions>;
  #queue: Pending[] = [];
  #active = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #capacityWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  /** Until when (performance.now()) statements do not announce, after the NOTIFY queue was full. */
  #notifyBlockedUntil = 0;
  readonly #stats: WriterStats = {
    queued: 0,
    inFlight: 0,
    stored: 0,
    duplicates: 0,
    refused: 0,
    batches: 0,
    failedAttempts: 0,
    unannouncedBatches: 0,
    lastBatchSize: 0,
    maxBatchSize: 0,
    running: true,
  };

  constructor(pool: Pool, logger: Logger, options: WriterOptions = {}) {
    this.#pool = pool;
    this.#logger = logger.child({ component: "writer" });
    this.#options = { ...DEFAULTS, ...options };
  }

  /**
   * Queues events; each promise resolves with its outcome once committed.
   *
   * @throws (rejects) DatabaseUnavailableError when the database stayed down past the retry budget,
   *   or an Error when the writer is closed.
   */
  submit(items: readonly WriteItem[]): Promise<WriteOutcome>[] {
    const now = Date.now();
    return items.map(
      (item) =>
        new Promise<WriteOutcome>((resolve, reject) => {
          if (this.#closed) return reject(new DatabaseUnavailableError("the coordinator is shutting down"));
          this.#queue.push({ item, resolve, reject, queuedAt: now });
        }),
    );
  }

  /** Starts a batch if one is due; call after submit (submit does not, so callers can group). */
  kick(): void {
    this.#schedule();
  }

  /** Whether another event can be queued without exceeding maxQueued. */
  hasCapacity(): boolean {
    return this.#queue.length < this.#options.maxQueued;
  }

  /** Resolves when the queue has room (callers stop reading from clients until then). */
  waitForCapacity(): Promise<void> {
    if (this.hasCapacity()) return Promise.resolve();
    return new Promise((resolve) => this.#capacityWaiters.push(resolve));
  }

  /** Current counters. */
  stats(): WriterStats {
    return { ...this.#stats, queued: this.#queue.length, inFlight: this.#stats.inFlight, running: this.#stats.running && !this.#closed };
  }

  /** Stores what is queued, then refuses new events. Resolves when nothing is in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#schedule();
    while (this.#queue.length > 0 || this.#active > 0) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
  }

  #schedule(): void {
    while (this.#queue.length > 0 && this.#active < this.#options.concurrency) {
      const oldest = this.#queue[0]!.queuedAt;
      const due = this.#queue.length >= this.#options.maxBatch || this.#closed || Date.now() - oldest >= this.#options.maxDelayMs;
      if (!due) {
        if (!this.#timer) {
          const wait = Math.max(0, this.#options.maxDelayMs - (Date.now() - oldest));
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.#schedule();
          }, wait);
        }
        return;
      }
      const batch = this.#queue.splice(0, this.#options.maxBatch);
      this.#wakeCapacityWaiters();
      this.#active++;
      this.#stats.inFlight += batch.length;
      void this.#runBatch(batch).finally(() => {
        this.#active--;
        this.#stats.inFlight -= batch.length;
        this.#schedule();
        if (this.#queue.length === 0 && this.#active === 0) this.#wakeIdleWaiters();
      });
    }
  }

  async #runBatch(batch: Pending[]): Promise<void> {
    this.#stats.batches++;
    this.#stats.lastBatchSize = batch.length;
    this.#stats.maxBatchSize = Math.max(this.#stats.maxBatchSize, batch.length);
    const firstAttempt = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#store(batch);
        this.#stats.running = true;
        return;
      } catch (error) {
        this.#stats.failedAttempts++;
        if (isDataError(error)) {
          await this.#isolate(batch, error as Error);
          return;
        }
        const elapsed = Date.now() - firstAttempt;
        if (elapsed >= this.#options.retryForMs) {
          this.#logger.error({ err: error, events: batch.length, elapsedMs: elapsed }, "database unavailable; giving up on a batch (its events are not acked)");
          const failure = new DatabaseUnavailableError(`database unavailable for ${Math.round(elapsed / 1000)} s: ${(error as Error).message}`);
          for (const pending of batch) pending.reject(failure);
          return;
        }
        this.#stats.running = false;
        const backoff = Math.min(2_000, 50 * 2 ** Math.min(attempt, 6));
        this.#logger.warn({ err: error, events: batch.length, attempt, retryInMs: backoff }, "batch failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    }
  }

  /** One statement (one implicit transaction) stores the batch; then outcomes are resolved. */
  async #store(batch: Pending[]): Promise<void> {
    // In-batch repeats of the same key (a resend racing its original) are duplicates of the first.
    const firstOfKey = new Map<string, Pending>();
    const rows: EventRow[] = [];
    for (const pending of batch) {
      const { mcpId, event, streamId, payload } = pending.item;
      const key = eventKey(mcpId, event.eventId);
      if (firstOfKey.has(key)) continue;
      firstOfKey.set(key, pending);
      rows.push({
        mcpId,
        eventId: event.eventId,
        interactionId: event.interactionId,
        sessionId: event.sessionId,
        kind: event.kind,
        occurredAtMs: timestampMs(event.occurredAt!),
        streamId,
        seq: streamId === null ? null : event.seq,
        payload: payload ?? toBinary(InteractionEventSchema, event),
        ...contributionOf(event),
      });
    }
    const started = performance.now();
    // Asked when the statement is built, not when the batch formed: an event submitted after a
    // watcher went live is in a statement built later still (watch/channel.ts).
    const storedKeys = await this.#storeRows(rows, this.#options.announce());
    const commitMs = performance.now() - started;
    const now = Date.now();
    let totalWaitMs = 0;
    // Committed: now, and only now, outcomes may be told.
    for (const pending of batch) {
      totalWaitMs += now - pending.queuedAt;
      const key = eventKey(pending.item.mcpId, pending.item.event.eventId);
      const isStored = storedKeys.has(key) && firstOfKey.get(key) === pending;
      if (isStored) this.#stats.stored++;
      else this.#stats.duplicates++;
      pending.resolve({ status: isStored ? "stored" : "duplicate" });
    }
    this.#options.onCommit({ events: batch.length, commitMs, maxWaitMs: now - batch[0]!.queuedAt, totalWaitMs });
  }

  /**
   * One statement; when announcing makes it fail because the NOTIFY queue is full (a session that
   * LISTENs stopped reading), the batch is stored again without the announcement, and so are the
   * batches of the next second: the live tails miss these events (ListInteractions has them), but
   * ingest never refuses or delays an event for a watcher's sake.
   */
  async #storeRows(rows: readonly EventRow[], wanted: boolean): Promise<Set<string>> {
    const announce = wanted && performance.now() >= this.#notifyBlockedUntil;
    if (wanted && !announce) this.#stats.unannouncedBatches++;
    try {
      return await storeBatch(this.#pool, rows, { announce, queueRollups: this.#options.queueRollups });
    } catch (error) {
      if (!announce || !isNotifyQueueFull(error)) throw error;
      this.#stats.unannouncedBatches++;
      this.#notifyBlockedUntil = performance.now() + NOTIFY_RETRY_MS;
      this.#logger.error({ err: error, events: rows.length }, "the NOTIFY queue is full: storing events without announcing them to live tails for a second (a session that LISTENs is not reading)");
      // Why: PostgreSQL frees queue pages only when a listener reading at the queue's tail moves
      // on, or when someone asks for the usage. Once the stuck listener is gone nothing else may
      // ask, and every NOTIFY would keep failing; this asks.
      await this.#pool.query("SELECT pg_notification_queue_usage()").catch(() => undefined);
      return await storeBatch(this.#pool, rows, { queueRollups: this.#options.queueRollups });
    }
  }

  /** Splits a batch Postgres refused for its data until the offending events are alone. */
  async #isolate(batch: Pending[], error: Error): Promise<void> {
    if (batch.length === 1) {
      this.#stats.refused++;
      this.#logger.warn({ err: error, eventId: batch[0]!.item.event.eventId }, "database refused an event");
      batch[0]!.resolve({ status: "refused", reason: `the database refused this event: ${error.message}` });
      return;
    }
    const middle = Math.ceil(batch.length / 2);
    for (const half of [batch.slice(0, middle), batch.slice(middle)]) await this.#runBatch(half);
  }

  #wakeCapacityWaiters(): void {
    while (this.#capacityWaiters.length > 0 && this.hasCapacity()) this.#capacityWaiters.shift()!();
  }

  #wakeIdleWaiters(): void {
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}

/**
 * Errors about the data itself (SQLSTATE class 22: data exception, 23: integrity violation,
 * 54: program limit exceeded): retrying the same batch cannot help, isolating the event can.
 */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^(22|23|54)/.test(code);
}

/** How long announcing pauses after the NOTIFY queue was found full (ms). */
const NOTIFY_RETRY_MS = 1_000;

/** PostgreSQL's "too many notifications in the NOTIFY queue" (54000, program_limit_exceeded). */
function isNotifyQueueFull(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === "54000" && typeof message === "string" && message.includes("NOTIFY queue");
}
