/**
 * A bounded queue between the live tail (which pushes synchronously, for every watcher an event
 * matches) and one WatchInteractions stream (which pulls when its client has taken the previous
 * message). A stream too far behind (more items, or more bytes, than its limits) is cut off
 * rather than holding memory or slowing anyone: it ends, and its client reconnects.
 */

/** Why a queue stopped: overflow (too slow), lost (the tail lost its connection), shutdown, cancelled (the client left). */
export type QueueEnd = "overflow" | "lost" | "shutdown" | "cancelled";

/** What {@link WatcherQueue.next} returns once there will be no more items. */
export class Ended {
  constructor(readonly reason: QueueEnd) {}
}

/** See the module comment. */
export class WatcherQueue<T> {
  readonly #maxItems: number;
  readonly #maxBytes: number;
  #items: { item: T; bytes: number }[] = [];
  #bytes = 0;
  #waiter: ((value: T | Ended) => void) | undefined;
  #end: QueueEnd | undefined;
  #endWaiters: ((end: QueueEnd) => void)[] = [];

  constructor(maxItems: number, maxBytes: number) {
    this.#maxItems = maxItems;
    this.#maxBytes = maxBytes;
  }

  /** Why the queue ended, once it has. */
  get ended(): QueueEnd | undefined {
    return this.#end;
  }

  /**
   * Adds an item of about `bytes`; past either limit, the queue ends with "overflow" and drops
   * what it held. (One item alone is always taken: the limits are about falling behind.)
   */
  push(item: T, bytes: number): void {
    if (this.#end) return;
    if (this.#waiter) {
      const wake = this.#waiter;
      this.#waiter = undefined;
      wake(item);
      return;
    }
    if (this.#items.length >= this.#maxItems || (this.#items.length > 0 && this.#bytes + bytes > this.#maxBytes)) {
      this.end("overflow");
      return;
    }
    this.#items.push({ item, bytes });
    this.#bytes += bytes;
  }

  /**
   * Ends the queue (the first reason stays). Items already queued are still returned at
   * shutdown; otherwise they are dropped (after a loss or an overflow the stream must not look
   * complete, and a cancelled one has nobody to read them).
   */
  end(reason: QueueEnd): void {
    if (this.#end) return;
    this.#end = reason;
    if (reason !== "shutdown") {
      this.#items = [];
      this.#bytes = 0;
    }
    const wake = this.#waiter;
    this.#waiter = undefined;
    wake?.(new Ended(reason));
    for (const notify of this.#endWaiters.splice(0)) notify(reason);
  }

  /** Resolves when the queue ends (to stop waiting for something else meanwhile). */
  whenEnded(): Promise<QueueEnd> {
    if (this.#end) return Promise.resolve(this.#end);
    return new Promise((resolve) => this.#endWaiters.push(resolve));
  }

  /** The next item, or why there will be none. */
  next(): Promise<T | Ended> {
    const first = this.#items.shift();
    if (first) {
      this.#bytes -= first.bytes;
      return Promise.resolve(first.item);
    }
    if (this.#end) return Promise.resolve(new Ended(this.#end));
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}
