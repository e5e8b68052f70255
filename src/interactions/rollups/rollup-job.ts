/**
 * The rollup job: keeps the rollups of finished interactions (per minute, hour, day and the grains
 * between, see grains.ts), per MCP and for all MCPs together, up to date (migrations 0005 and
 * 0007), off the ingest path.
 *
 * Each run, on whichever replica takes the rollup lock (the others skip it), repeats until no
 * queued minute is ready (ended, or waited `settleMs`): take up to `chunk` ready minutes; recompute them from the summaries, then the
 * all-MCP rows of those minutes from the MCPs' rows, then each grain above them from the grain
 * below; remove the queue rows handled. Each round is one REPEATABLE READ transaction, so a change
 * committed during a round stays queued for the next one and nothing is missed.
 */
import type { Pool } from "pg";
import type { Logger } from "pino";
import { withTransaction } from "../../store/transaction.js";
import * as rq from "./rollup-queries.js";

/** Tuning; every field has a production default. */
export interface RollupOptions {
  /** How often a run starts (ms). Default 5 s. */
  intervalMs?: number;
  /** Queued minutes handled per transaction. Default 20,000. */
  chunk?: number;
  /**
   * How long a change to a minute that has not ended yet may wait before that minute is
   * recomputed (ms); ended minutes are recomputed at the next run. Default 30 s: the figures of
   * the current minute lag by up to about 35 s, and a minute is recomputed about twice under
   * steady ingest instead of at every run.
   */
  settleMs?: number;
}

/** What one run did. */
export interface RollupRun {
  /** False when another replica held the lock (this run did nothing). */
  ran: boolean;
  /** Distinct (MCP, minute) pairs recomputed. */
  minutes: number;
}

/** See the module comment. */
export class RollupJob {
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #options: Required<RollupOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #closed = false;

  constructor(pool: Pool, logger: Logger, options: RollupOptions = {}) {
    this.#pool = pool;
    this.#logger = logger.child({ component: "rollups" });
    this.#options = { intervalMs: 5_000, chunk: 20_000, settleMs: 30_000, ...options };
  }

  /** Runs now, then every interval (a run never overlaps the previous one). */
  start(): void {
    const tick = () => {
      if (this.#closed) return;
      this.#running = this.runOnce()
        .catch((err: unknown) => this.#logger.warn({ err }, "rollup run failed; the next one retries"))
        .finally(() => {
          if (!this.#closed) this.#timer = setTimeout(tick, this.#options.intervalMs).unref();
        });
    };
    tick();
  }

  /** Stops the schedule and waits for a run in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One run: rounds until the queue is empty (see the module comment). */
  async runOnce(): Promise<RollupRun> {
    const run: RollupRun = { ran: false, minutes: 0 };
    for (;;) {
      const round = await withTransaction(
        this.#pool,
        async (client) => {
          if (!(await rq.tryLockRollups(client))) return undefined;
          const marks = await rq.takeMarks(client, this.#options.chunk, this.#options.settleMs);
          if (marks > 0) {
            await rq.recomputeMinutes(client);
            await rq.recomputeAllMcpMinutes(client);
            await rq.recomputeAboveMinutes(client);
            await rq.clearMarks(client);
          }
          return marks;
        },
        "BEGIN ISOLATION LEVEL REPEATABLE READ",
      );
      if (round === undefined) return run;
      run.ran = true;
      run.minutes += round;
      if (round < this.#options.chunk || this.#closed) return run;
    }
  }
}
