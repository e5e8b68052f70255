/**
 * Decision changes from every replica, delivered to this process's awaiters and watchers.
 *
 * One dedicated connection LISTENs on the channel the store notifies at each commit. A
 * notification only says "something changed"; the feed then reads every decision whose revision
 * is above the last one it delivered, in revision order, and hands each to the subscribers. So
 * nothing depends on notifications arriving: after the LISTEN connection drops, the feed
 * reconnects and the same catch-up read delivers whatever changed meanwhile, and a slow poll
 * covers a notification lost any other way.
 */
import type { Pool, PoolClient } from "pg";
import type { Logger } from "pino";
import { answersByDecision } from "./decision-mapping.js";
import { decisionsChangedAfter, latestRevision, listAnswers, type AnswerRow, type DecisionRow } from "./decision-queries.js";

/** One change as delivered: the decision's row as of `revision`, and its answers. */
export interface DecisionChange {
  revision: bigint;
  row: DecisionRow;
  answers: AnswerRow[];
}

/** A subscriber; called synchronously, in revision order, once per change. */
export type ChangeListener = (change: DecisionChange) => void;

/** A subscriber to one decision's changes (an object, so an awaiter needs no extra closure). */
export interface ChangeSink {
  push(change: DecisionChange): void;
}

/** Tuning, mostly for tests. */
export interface ChangeFeedOptions {
  /** Safety-net poll interval (ms). Default 5 s. */
  pollIntervalMs?: number;
  /** Wait before reconnecting a dropped LISTEN connection (ms). Default 500. */
  reconnectDelayMs?: number;
}

const CHANNEL = "mcpc_decision_changes";
/** Appended to the LISTEN connection's application_name. */
const FEED_SUFFIX = " decision-feed";
const PAGE = 500;

/** See the module comment. */
export class DecisionChangeFeed {
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #options: Required<ChangeFeedOptions>;
  readonly #listeners = new Set<ChangeListener>();
  /** Listeners of one decision each (awaiters): found by id, not by asking every listener. */
  readonly #byDecision = new Map<string, Set<ChangeSink>>();
  #lastRevision = 0n;
  #client: PoolClient | undefined;
  #closed = false;
  #reading: Promise<void> | undefined;
  #readAgain = false;
  #poll: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;

  constructor(pool: Pool, logger: Logger, options: ChangeFeedOptions = {}) {
    this.#pool = pool;
    this.#logger = logger.child({ component: "decision-feed" });
    this.#options = { pollIntervalMs: 5_000, reconnectDelayMs: 500, ...options };
  }

  /** Open subscriptions (watchers and awaiters) on this replica. */
  get subscriberCount(): number {
    let count = this.#listeners.size;
    for (const listeners of this.#byDecision.values()) count += listeners.size;
    return count;
  }

  /** Subscribers to every change (WatchDecisions streams); the rest follow one decision each. */
  get watcherCount(): number {
    return this.#listeners.size;
  }

  /** The highest revision delivered so far. */
  get lastRevision(): bigint {
    return this.#lastRevision;
  }

  /** Starts listening; changes committed before this call are not delivered. */
  async start(): Promise<void> {
    this.#lastRevision = await latestRevision(this.#pool);
    await this.#listen();
    this.#poll = setInterval(() => this.#read(), this.#options.pollIntervalMs);
    this.#poll.unref();
  }

  /** Adds a subscriber to every change; returns the function that removes it. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Adds a subscriber to the changes of one decision (undo with {@link unsubscribeFrom}).
   * Delivering a change costs the same however many other decisions are awaited.
   */
  subscribeTo(decisionId: string, sink: ChangeSink): void {
    let sinks = this.#byDecision.get(decisionId);
    if (!sinks) this.#byDecision.set(decisionId, (sinks = new Set()));
    sinks.add(sink);
  }

  /** Removes a subscriber added with {@link subscribeTo}. */
  unsubscribeFrom(decisionId: string, sink: ChangeSink): void {
    const sinks = this.#byDecision.get(decisionId);
    if (sinks?.delete(sink) && sinks.size === 0) this.#byDecision.delete(decisionId);
  }

  /** Stops listening and polling. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#reconnect);
    const client = this.#client;
    this.#client = undefined;
    // Closed rather than returned to the pool: it carries the listener's name and LISTEN state.
    client?.release(true);
    await this.#reading;
  }

  async #listen(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      client.on("notification", () => this.#read());
      client.on("error", (err) => this.#dropped(client, err));
      client.on("end", () => this.#dropped(client, new Error("connection ended")));
      // Named for pg_stat_activity: "<pool's name> decision-feed" is this process's listener.
      await client.query(`SELECT set_config('application_name', left(current_setting('application_name'), 40) || '${FEED_SUFFIX}', false)`);
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
    if (this.#closed) {
      // Closed while this (re)connect was under way: nobody would release the connection later,
      // and the pool's end() would wait for it forever.
      client.release(true);
      return;
    }
    this.#client = client;
    // Whatever committed while we were not listening.
    this.#read();
  }

  #dropped(client: PoolClient, error: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.release(error);
    if (this.#closed) return;
    this.#logger.warn({ err: error }, "LISTEN connection lost; reconnecting");
    const retry = () => {
      if (this.#closed) return;
      this.#listen().then(
        () => this.#logger.info("LISTEN connection restored; catching up"),
        (err: unknown) => {
          this.#logger.warn({ err }, "could not LISTEN again; retrying");
          this.#reconnect = setTimeout(retry, this.#options.reconnectDelayMs);
        },
      );
    };
    this.#reconnect = setTimeout(retry, this.#options.reconnectDelayMs);
  }

  /** Reads changes after the last delivered revision; one read at a time, re-run if asked meanwhile. */
  #read(): void {
    if (this.#closed) return;
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = (async () => {
      do {
        this.#readAgain = false;
        try {
          await this.#deliverPages();
        } catch (error) {
          this.#logger.warn({ err: error }, "could not read decision changes; the next notification or poll retries");
        }
      } while (this.#readAgain && !this.#closed);
    })().finally(() => (this.#reading = undefined));
  }

  async #deliverPages(): Promise<void> {
    // A pool connection when one is idle: the one just released is usually the backend that
    // committed the change, still hot, which answers fastest. When the pool is busy (writers
    // queued on the decision lock) waiting for it would delay every delivery, so the LISTEN
    // connection, idle between notifications, reads instead.
    const db = this.#client && this.#pool.idleCount === 0 ? this.#client : this.#pool;
    for (;;) {
      const rows = await decisionsChangedAfter(db, this.#lastRevision, PAGE);
      if (rows.length === 0) return;
      const answersOf = answersByDecision(await listAnswers(db, rows.map((r) => r.id)));
      for (const row of rows) {
        const revision = BigInt(row.revision);
        const change = { revision, row, answers: answersOf(row.id) };
        this.#lastRevision = revision;
        for (const listener of this.#listeners) this.#deliver(listener, change);
        const sinks = this.#byDecision.get(row.id);
        if (sinks) for (const sink of sinks) this.#deliver(sink, change);
      }
      if (rows.length < PAGE) return;
    }
  }

  #deliver(subscriber: ChangeListener | ChangeSink, change: DecisionChange): void {
    try {
      if (typeof subscriber === "function") subscriber(change);
      else subscriber.push(change);
    } catch (error) {
      this.#logger.error({ err: error }, "decision change subscriber failed");
    }
  }
}
