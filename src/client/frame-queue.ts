/**
 * The request side of one bidi call as an async iterable: the connection pushes frames, nice-grpc
 * pulls them (and stops pulling while grpc-js signals write backpressure). `end()` half-closes.
 */

/** A push-to-pull queue of frames. */
export class FrameQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  /** Queues a frame; ignored after end(). */
  push(item: T): void {
    if (this.#ended) return;
    this.#items.push(item);
    this.#signal();
  }

  /** No more frames: the iterator finishes once the queued ones are pulled (a half-close). */
  end(): void {
    this.#ended = true;
    this.#signal();
  }

  /** Drops frames not yet pulled and ends (the call is over; nobody will pull them). */
  discard(): void {
    this.#items = [];
    this.end();
  }

  get ended(): boolean {
    return this.#ended;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
