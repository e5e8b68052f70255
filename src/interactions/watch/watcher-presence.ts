/**
 * The writer's answer to "is anyone, on any replica, watching the live tail?", kept fresh off
 * the ingest path: a timer asks pg_locks (watch-queries.ts) once per refresh period, and the
 * writer reads the cached answer synchronously for each statement.
 *
 * An answer is trusted for validMs from when its question was SENT. Past that (the database is
 * slow or down, or the process has just started), the answer is "yes": announcing a batch nobody
 * reads costs a few bytes, while missing one a watcher waits for breaks the tail's promise. That
 * rule is what lets a new tail call itself live validMs (plus a margin) after taking its lock:
 * every statement built after that moment read an answer asked after the lock was visible.
 */
import type { Pool } from "pg";
import type { Logger } from "pino";
import { DEFAULT_PRESENCE_TIMING, type PresenceTiming } from "./channel.js";
import { anyoneWatching } from "./watch-queries.js";

/** See the module comment. */
export class WatcherPresence {
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #timing: PresenceTiming;
  #watching = true;
  /** performance.now() when the question behind {@link #watching} was sent. */
  #askedAt = Number.NEGATIVE_INFINITY;
  #asking: Promise<void> | undefined;
  #failing = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(pool: Pool, logger: Logger, timing: Partial<PresenceTiming> = {}) {
    this.#pool = pool;
    this.#logger = logger.child({ component: "watcher-presence" });
    this.#timing = { ...DEFAULT_PRESENCE_TIMING, ...timing };
  }

  /** Asks once (so the first batches do not announce needlessly), then every refresh period. */
  async start(): Promise<void> {
    await this.#ask();
    this.#timer = setInterval(() => void this.#ask(), this.#timing.refreshMs);
    this.#timer.unref();
  }

  /** Whether statements should announce their events now. Synchronous: the writer calls it per statement. */
  anyone(): boolean {
    if (performance.now() - this.#askedAt >= this.#timing.validMs) return true;
    return this.#watching;
  }

  /** Stops asking. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#asking;
  }

  #ask(): Promise<void> {
    // One question at a time: a slow database does not pile them up (the answer just ages).
    return (this.#asking ??= (async () => {
      const askedAt = performance.now();
      try {
        const watching = await anyoneWatching(this.#pool);
        this.#watching = watching;
        this.#askedAt = askedAt;
        if (this.#failing) this.#logger.info("can tell again whether anyone watches the live tail");
        this.#failing = false;
      } catch (err) {
        // Logged once per failing spell; meanwhile the answer ages into "yes".
        if (!this.#failing) this.#logger.warn({ err }, "cannot tell whether anyone watches the live tail; announcing every batch until it can");
        this.#failing = true;
      } finally {
        this.#asking = undefined;
      }
    })());
  }
}
