/**
 * The in-memory set of events not yet acknowledged: a send queue (oldest first) and, per event,
 * whoever waits for its outcome. The stream connection takes events from here and gives back the
 * ones it could not get acked; `flush()` waits here.
 */
import type { InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";

/** What finally happened to an event (or that the wait ran out first). */
export type Outcome = "stored" | "duplicate" | "rejected" | "dropped" | "timeout";

/** One pending event. */
export interface OutboxEntry {
  /** Position in enqueue order; replayed events come first. */
  readonly order: number;
  readonly eventId: string;
  readonly event: InteractionEvent;
  /** When it was reported (ms since epoch); the age limit counts from here. */
  readonly enqueuedAt: number;
}

/** setTimeout treats anything above 2^31-1 ms as 1 ms: clamp, so flush(Infinity) means "a very long time". */
function timerMs(ms: number): number {
  return Math.min(Math.max(0, Number.isFinite(ms) ? ms : 2 ** 31 - 1), 2 ** 31 - 1);
}

interface Waiter {
  order: number;
  resolve: (done: boolean) => void;
  timer: NodeJS.Timeout;
}

/** The pending events of one reporter. */
export class Outbox {
  /** Every unsettled event, in enqueue order (Map keeps insertion order). */
  readonly #pending = new Map<string, OutboxEntry>();
  /** Events to send next; a sent event leaves it and comes back only if its stream ends unacked. */
  #queue: OutboxEntry[] = [];
  #head = 0;
  #nextOrder = 1;
  #flushWaiters: Waiter[] = [];
  readonly #eventWaiters = new Map<string, ((outcome: Outcome) => void)[]>();

  /** Events held (queued or in flight). */
  get size(): number {
    return this.#pending.size;
  }

  /** Events waiting to be sent. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Adds an event at the back of the queue. */
  add(eventId: string, event: InteractionEvent, enqueuedAt: number): OutboxEntry {
    const entry: OutboxEntry = { order: this.#nextOrder++, eventId, event, enqueuedAt };
    this.#pending.set(eventId, entry);
    this.#queue.push(entry);
    return entry;
  }

  /** Takes the next event to send, or undefined when none is waiting. */
  takeNext(): OutboxEntry | undefined {
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        // Reclaim the consumed prefix now and then instead of shifting on every take.
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (this.#pending.has(entry.eventId)) return entry;
    }
    return undefined;
  }

  /**
   * Puts events that were sent but not acked (their stream ended) back at the front of the
   * queue, in enqueue order, so they are resent first.
   */
  requeue(entries: Iterable<OutboxEntry>): void {
    const back = [...entries].filter((entry) => this.#pending.has(entry.eventId)).sort((a, b) => a.order - b.order);
    if (back.length === 0) return;
    this.#queue = [...back, ...this.#queue.slice(this.#head)];
    this.#head = 0;
  }

  /** Forgets an event for good and tells whoever waits for it. Returns it, if it was pending. */
  settle(eventId: string, outcome: Outcome): OutboxEntry | undefined {
    const entry = this.#pending.get(eventId);
    if (!entry) return undefined;
    this.#pending.delete(eventId);
    const waiters = this.#eventWaiters.get(eventId);
    if (waiters) {
      this.#eventWaiters.delete(eventId);
      for (const resolve of waiters) resolve(outcome);
    }
    if (this.#flushWaiters.length) this.#checkFlushWaiters();
    return entry;
  }

  /**
   * Resolves true once every event added before this call is settled, or false after
   * `timeoutMs`. The timer is not unref'd on purpose: a caller awaiting flush at the end of a
   * script expects the process to wait for it (it is bounded by the timeout).
   */
  flush(timeoutMs: number): Promise<boolean> {
    const order = this.#nextOrder - 1;
    if (this.#oldestOrder() > order) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        order,
        resolve,
        timer: setTimeout(() => {
          this.#flushWaiters = this.#flushWaiters.filter((w) => w !== waiter);
          resolve(false);
        }, timerMs(timeoutMs)),
      };
      this.#flushWaiters.push(waiter);
    });
  }

  /** Resolves with the event's outcome, or "timeout" after `timeoutMs` (unref'd). */
  waitFor(eventId: string, timeoutMs: number): Promise<Outcome> {
    if (!this.#pending.has(eventId)) return Promise.resolve("stored");
    return new Promise((resolve) => {
      const list = this.#eventWaiters.get(eventId) ?? [];
      const done = (outcome: Outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        const current = this.#eventWaiters.get(eventId);
        const rest = current?.filter((w) => w !== done) ?? [];
        if (rest.length) this.#eventWaiters.set(eventId, rest);
        else this.#eventWaiters.delete(eventId);
        resolve("timeout");
      }, timerMs(timeoutMs));
      timer.unref();
      list.push(done);
      this.#eventWaiters.set(eventId, list);
    });
  }

  /** Resolves every waiter as if it timed out (used by close). */
  releaseWaiters(): void {
    for (const waiter of this.#flushWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(this.#oldestOrder() > waiter.order);
    }
    this.#flushWaiters = [];
    for (const [, waiters] of this.#eventWaiters) for (const resolve of waiters) resolve("timeout");
    this.#eventWaiters.clear();
  }

  #oldestOrder(): number {
    for (const entry of this.#pending.values()) return entry.order;
    return Number.POSITIVE_INFINITY;
  }

  #checkFlushWaiters(): void {
    const oldest = this.#oldestOrder();
    this.#flushWaiters = this.#flushWaiters.filter((waiter) => {
      if (waiter.order >= oldest) return true;
      clearTimeout(waiter.timer);
      waiter.resolve(true);
      return false;
    });
  }
}
