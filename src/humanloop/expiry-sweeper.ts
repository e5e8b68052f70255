/**
 * Enforces deadlines: expires pending decisions whose expires_at has passed. Every replica runs
 * one; the store's conditional update lets exactly one of them expire each decision. It sleeps
 * until the earliest pending deadline (at most `maxSleepMs`, so a deadline set or moved by another
 * replica is noticed), and on start it catches up on every deadline that passed while no
 * coordinator was running.
 */
import type { Logger } from "pino";
import type { DecisionStore } from "./decision-store.js";

/** Sweeper tuning. */
export interface SweeperOptions {
  /** Longest sleep between sweeps (ms). Default 1 s. */
  maxSleepMs?: number;
}

/** See the module comment. */
export class ExpirySweeper {
  readonly #store: DecisionStore;
  readonly #logger: Logger;
  readonly #maxSleepMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(store: DecisionStore, logger: Logger, options: SweeperOptions = {}) {
    this.#store = store;
    this.#logger = logger.child({ component: "expiry-sweeper" });
    this.#maxSleepMs = options.maxSleepMs ?? 1_000;
  }

  /** Sweeps now (catching up after downtime), then keeps sweeping. */
  start(): void {
    this.#sweepSoon(0);
  }

  /** Sweeps soon: a decision was created or extended with a deadline nearer than the next sweep. */
  wake(): void {
    if (!this.#stopped && !this.#running) this.#sweepSoon(0);
  }

  /** Stops after the sweep in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #sweepSoon(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.#sweep().finally(() => (this.#running = undefined));
    }, ms);
    this.#timer.unref();
  }

  async #sweep(): Promise<void> {
    let sleep = this.#maxSleepMs;
    try {
      // Drain everything due, in bounded transactions.
      while (!this.#stopped && (await this.#store.expireDue(100)) > 0);
      const next = await this.#store.nextDeadline();
      if (next) sleep = Math.max(0, Math.min(sleep, next.getTime() - Date.now() + 5));
    } catch (error) {
      this.#logger.warn({ err: error }, "expiry sweep failed; retrying");
    }
    if (!this.#stopped) this.#sweepSoon(sleep);
  }
}
