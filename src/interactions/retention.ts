/**
 * Retention of interaction data (the seeds' "delete records older than 30 days, hourly").
 *
 * Each run, on whichever replica takes the retention lock (the others skip it):
 * 1. drops every monthly event partition whose month ended before now - retention (whole tables:
 *    no row-by-row DELETE of events);
 * 2. trims the dedupe keys and interaction summaries older than the oldest event still kept, in
 *    chunks, so a resend of a dropped event is not refused as a duplicate of nothing and no
 *    summary outlives all its events;
 * 3. trims the rollups whose buckets ended before now - retention;
 * 4. creates the partitions of the coming months.
 * Running it twice, or on two replicas at once, changes nothing the second time.
 */
import type { Pool } from "pg";
import type { Logger } from "pino";
import * as rq from "./retention-queries.js";
import { trimRollups } from "./rollups/rollup-queries.js";
import { ensureEventPartitions } from "./writer-queries.js";

/** Tuning; every field has a production default. */
export interface RetentionOptions {
  /** Events received longer ago than this are removed (ms). Default 30 days. */
  retentionMs?: number;
  /** How often a run starts (ms). Default 1 h. */
  intervalMs?: number;
  /** Months of partitions created ahead. Default 2. */
  monthsAhead?: number;
  /** Rows per trimming statement. Default 10,000. */
  chunk?: number;
}

/** What one run did. */
export interface RetentionRun {
  /** False when another replica held the lock (this run did nothing). */
  ran: boolean;
  droppedPartitions: string[];
  trimmedKeys: number;
  trimmedInteractions: number;
  trimmedRollups: number;
  createdPartitions: number;
}

/** See the module comment. */
export class RetentionJob {
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #options: Required<RetentionOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(pool: Pool, logger: Logger, options: RetentionOptions = {}) {
    this.#pool = pool;
    this.#logger = logger.child({ component: "retention" });
    this.#options = { retentionMs: 30 * 86_400_000, intervalMs: 3_600_000, monthsAhead: 2, chunk: 10_000, ...options };
  }

  /** Runs now, then every interval. */
  start(): void {
    const tick = () => {
      this.#running = this.runOnce().catch((err: unknown) => this.#logger.error({ err }, "retention run failed; the next one retries"));
    };
    tick();
    this.#timer = setInterval(tick, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops the schedule and waits for a run in progress. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One run (see the module comment). */
  async runOnce(): Promise<RetentionRun> {
    const run: RetentionRun = { ran: false, droppedPartitions: [], trimmedKeys: 0, trimmedInteractions: 0, trimmedRollups: 0, createdPartitions: 0 };
    const client = await this.#pool.connect();
    try {
      if (!(await rq.tryLockRetention(client))) return run;
      run.ran = true;
      try {
        const cutoff = await rq.retentionCutoff(client, this.#options.retentionMs);
        const partitions = await rq.listEventPartitions(client);
        for (const partition of partitions) {
          if (partition.end.getTime() > cutoff.getTime()) continue;
          await rq.dropEventPartition(client, partition.name);
          run.droppedPartitions.push(partition.name);
        }
        // The oldest event kept: the first month still there (else the end of the last month
        // dropped), or an older event in the default partition. Keys and summaries before it
        // belong to events that are gone.
        const kept = partitions.find((p) => !run.droppedPartitions.includes(p.name));
        let boundary = kept?.start ?? partitions.filter((p) => run.droppedPartitions.includes(p.name)).at(-1)?.end;
        const defaultOldest = await rq.oldestDefaultPartitionEvent(client);
        if (defaultOldest && (!boundary || defaultOldest.getTime() < boundary.getTime())) boundary = defaultOldest;
        if (boundary) {
          const before = boundary;
          run.trimmedKeys = await this.#inChunks((limit) => rq.trimEventKeys(client, before, limit));
          run.trimmedInteractions = await this.#inChunks((limit) => rq.trimInteractions(client, before, limit));
        }
        run.trimmedRollups = await this.#inChunks((limit) => trimRollups(client, cutoff, limit));
        run.createdPartitions = await ensureEventPartitions(client, this.#options.monthsAhead);
      } finally {
        await rq.unlockRetention(client);
      }
      if (run.droppedPartitions.length || run.trimmedKeys || run.trimmedInteractions || run.trimmedRollups) this.#logger.info(run, "retention removed expired interaction data");
      return run;
    } finally {
      client.release();
    }
  }

  async #inChunks(trim: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await trim(this.#options.chunk);
      total += n;
      if (n < this.#options.chunk) return total;
    }
  }
}
