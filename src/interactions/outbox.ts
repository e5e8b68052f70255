/**
 * A one-reader async queue: producers push, the stream's reader takes. Closing ends the iteration
 * normally after the queued items; failing ends it at once by throwing the error at the reader.
 *
 * Written as a plain async iterator rather than an async generator: every idle stream's response
 * side waits here, and a suspended generator (its frame, pending request, promises and await
 * closures) costs several hundred bytes more per open stream than one pending promise.
 */

type Result<T> = IteratorResult<T, undefined>;

const DONE: Result<never> = Object.freeze({ done: true, value: undefined });

/** See the module comment. One reader, one next() at a time (as `for await` and `yield*` do). */
export class Outbox<T> implements AsyncIterable<T>, AsyncIterator<T, undefined> {
  #items: T[] = [];
  #head = 0;
  #ended: { error?: unknown } | undefined;
  /** The reader was told the end (or stopped): every later next() is done. */
  #over = false;
  /** Settles the reader's pending next(). */
  #wake: ((result: Result<T> | Promise<Result<T>>) => void) | undefined;
  readonly #onFinished: (() => Promise<void> | void) | undefined;
  /** When the reader last took an item, or when the outbox was made (ms since epoch). */
  lastTakenAt = Date.now();

  /**
   * @param onFinished - called once when the reader is done: it reached the end, got the error,
   *   or stopped early (return() or throw()). The reader's last next(), return() or throw()
   *   settles after the promise it returns.
   */
  constructor(onFinished?: () => Promise<void> | void) {
    this.#onFinished = onFinished;
  }

  /** Queues an item (ignored once the outbox has ended). */
  push(item: T): void {
    if (this.#ended) return;
    const wake = this.#wake;
    if (wake) {
      // The reader is waiting, so nothing is queued: hand the item over directly.
      this.#wake = undefined;
      wake(this.#taken(item));
      return;
    }
    this.#items.push(item);
  }

  /** Items queued and not yet taken. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Whether close() or fail() was called (or the reader stopped). */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** Ends the iteration after the queued items. */
  close(): void {
    if (this.#ended) return;
    this.#ended = {};
    this.#wakeAtEnd();
  }

  /** Ends the iteration now: the reader gets `error` (queued items are dropped). */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = { error };
    this.#items = [];
    this.#head = 0;
    this.#wakeAtEnd();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next item; waits for one while the outbox is open and empty. */
  next(): Promise<Result<T>> {
    if (this.#over) return Promise.resolve(DONE);
    if (this.#head < this.#items.length) return Promise.resolve(this.#taken(this.#shift()));
    if (this.#ended) return this.#finish();
    return new Promise((resolve) => (this.#wake = resolve));
  }

  /** The reader stops early (a `for await` left by break, a cancelled call): the end, now. */
  return(): Promise<Result<T>> {
    this.#stop();
    return this.#finish();
  }

  /** The reader stops with an error (its consumer failed): the end, then the error thrown back. */
  throw(error?: unknown): Promise<Result<T>> {
    this.#stop();
    const rethrow = () => Promise.reject(error);
    return this.#finish().then(rethrow, rethrow);
  }

  #shift(): T {
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as T;
    if (this.#head === this.#items.length) {
      // Drained: drop the array, so an idle stream does not keep the last burst's capacity.
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      // Compact now and then, so a long-lived busy stream does not keep a growing array.
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  #taken(item: T): Result<T> {
    this.lastTakenAt = Date.now();
    return { done: false, value: item };
  }

  #wakeAtEnd(): void {
    const wake = this.#wake;
    if (!wake) return;
    this.#wake = undefined;
    wake(this.#finish());
  }

  #stop(): void {
    // The reader chose to stop: an error it was not told yet is not thrown at it any more.
    this.#ended = {};
    this.#items = [];
    this.#head = 0;
  }

  /** The end as the reader sees it (once): the hook first, then done or the error. */
  #finish(): Promise<Result<T>> {
    if (this.#over) return Promise.resolve(DONE);
    this.#over = true;
    const failed = this.#ended !== undefined && "error" in this.#ended;
    const error = this.#ended?.error;
    const finished = this.#onFinished?.();
    const result = () => (failed ? Promise.reject(error) : DONE);
    return finished ? finished.then(result) : Promise.resolve(result());
  }
}
