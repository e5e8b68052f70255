/**
 * A one-reader async queue: producers push, the stream's response generator pulls. Closing ends
 * the iteration normally; failing ends it by throwing the error at the reader.
 */
export class Outbox<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #ended: { error?: unknown } | undefined;
  #wake: (() => void) | undefined;

  /** Queues an item (ignored once the outbox has ended). */
  push(item: T): void {
    if (this.#ended) return;
    this.#items.push(item);
    this.#notify();
  }

  /** Items queued and not yet taken. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Whether close() or fail() was called. */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** Ends the iteration after the queued items. */
  close(): void {
    if (this.#ended) return;
    this.#ended = {};
    this.#notify();
  }

  /** Ends the iteration now: the reader gets `error` (queued items are dropped). */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = { error };
    this.#notify();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      if (this.#ended && "error" in this.#ended) throw this.#ended.error;
      if (this.#head < this.#items.length) {
        const item = this.#items[this.#head]!;
        this.#items[this.#head++] = undefined as T;
        // Compact now and then, so a long-lived stream does not keep a growing array.
        if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
          this.#items = this.#items.slice(this.#head);
          this.#head = 0;
        }
        yield item;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
