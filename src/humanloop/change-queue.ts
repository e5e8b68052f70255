/**
 * A bounded queue between the change feed (which pushes synchronously) and one stream handler
 * (which pulls when its client has taken the previous message). A reader that falls more than
 * `limit` changes behind is cut off instead of letting memory grow: the stream ends and the client
 * resumes from its last revision.
 */
import type { DecisionChange } from "./change-feed.js";

/** Why {@link ChangeQueue.next} stopped returning changes. */
export type QueueEnd = "overflow" | "closed";

/** See the module comment. */
export class ChangeQueue {
  readonly #limit: number;
  #items: DecisionChange[] = [];
  #waiter: ((value: DecisionChange | QueueEnd) => void) | undefined;
  #end: QueueEnd | undefined;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Adds a change (the feed's listener). */
  push(change: DecisionChange): void {
    if (this.#end) return;
    if (this.#waiter) {
      const wake = this.#waiter;
      this.#waiter = undefined;
      wake(change);
      return;
    }
    if (this.#items.length >= this.#limit) {
      this.#items = [];
      this.#end = "overflow";
      return;
    }
    this.#items.push(change);
  }

  /** Ends the queue: pending and later next() calls return `reason` once the items are read. */
  close(reason: QueueEnd = "closed"): void {
    this.#end ??= reason;
    const wake = this.#waiter;
    this.#waiter = undefined;
    wake?.(this.#end);
  }

  /** The next change, or why there will be none. */
  next(): Promise<DecisionChange | QueueEnd> {
    const item = this.#items.shift();
    if (item) return Promise.resolve(item);
    if (this.#end) return Promise.resolve(this.#end);
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}
