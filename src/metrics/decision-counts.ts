/**
 * Decisions per status, read from Postgres at scrape time: one GROUP BY, cached for a few seconds
 * and shared by concurrent scrapes, so many Prometheus servers (or a fast scrape interval) cost
 * the database at most one query per cache period.
 */
import type { Pool } from "pg";
import type { Logger } from "pino";

/** Status numbers as stored in decisions.status (DecisionStatus), with the label each gets. */
export const DECISION_STATUSES = [
  [1, "pending"],
  [2, "completed"],
  [3, "expired"],
  [4, "cancelled"],
] as const;

/** Decisions per status label; every status present (0 when none). */
export type DecisionCountsByStatus = Map<(typeof DECISION_STATUSES)[number][1], number>;

/** Cache tuning. */
export interface DecisionCountsOptions {
  /** How long one reading is served before the database is asked again (ms). Default 5 s. */
  ttlMs?: number;
  /** How long a scrape waits for the query before it reports nothing (ms). Default 2 s. */
  timeoutMs?: number;
}

/** See the module comment. */
export class DecisionCounts {
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  #cached: { at: number; counts: DecisionCountsByStatus | undefined } | undefined;
  #reading: Promise<DecisionCountsByStatus | undefined> | undefined;

  constructor(pool: Pool, logger: Logger, options: DecisionCountsOptions = {}) {
    this.#pool = pool;
    this.#logger = logger;
    this.#ttlMs = options.ttlMs ?? 5_000;
    this.#timeoutMs = options.timeoutMs ?? 2_000;
  }

  /**
   * The counts, at most ttlMs old; undefined when the database could not answer (in time). A
   * failure is cached too: a database that is down is not asked at every scrape.
   */
  async read(): Promise<DecisionCountsByStatus | undefined> {
    if (this.#cached && Date.now() - this.#cached.at < this.#ttlMs) return this.#cached.counts;
    // One query at a time: a slow database does not pile up queries holding pool connections.
    this.#reading ??= this.#query().finally(() => (this.#reading = undefined));
    return Promise.race([this.#reading, delay(this.#timeoutMs)]);
  }

  async #query(): Promise<DecisionCountsByStatus | undefined> {
    let counts: DecisionCountsByStatus | undefined;
    try {
      counts = await countDecisionsByStatus(this.#pool);
    } catch (err) {
      this.#logger.warn({ err }, "metrics: could not count decisions by status");
    }
    this.#cached = { at: Date.now(), counts };
    return counts;
  }
}

/** Decisions per status, from one scan of the decisions table. */
export async function countDecisionsByStatus(pool: Pool): Promise<DecisionCountsByStatus> {
  // Why one GROUP BY over the whole table (no index serves it): decisions are made by people, so
  // the table stays small next to the event log, and the caller caches the answer for seconds.
  const { rows } = await pool.query<{ status: number; count: string }>(
    "SELECT status, count(*) AS count FROM decisions GROUP BY status",
  );
  const byNumber = new Map(rows.map((row) => [row.status, Number(row.count)]));
  return new Map(DECISION_STATUSES.map(([number, label]) => [label, byNumber.get(number) ?? 0]));
}

/** Resolves undefined after `ms`, without keeping the process alive. */
function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}
