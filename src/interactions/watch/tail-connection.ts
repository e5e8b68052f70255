/**
 * The live tail's dedicated database connection: it LISTENs on the events channel and holds the
 * shared watching lock (channel.ts) for as long as it is open, and is closed (never returned to
 * the pool) when the tail no longer needs it, which releases the lock with it.
 */
import type { Pool, PoolClient } from "pg";
import type { Logger } from "pino";
import { LIVE_MARGIN_MS } from "./channel.js";
import { listenAndHoldWatchingLock, type TimedRef } from "./watch-queries.js";

/** What the connection reports to its owner. */
export interface TailConnectionEvents {
  /** A notification on the events channel. */
  notification(payload: string | undefined): void;
  /** The connection failed after it was opened (not called after {@link TailConnection.close}). */
  lost(error: Error): void;
}

/** Appended to the connection's application_name (pg_stat_activity). */
const TAIL_SUFFIX = " event-tail";

/** See the module comment. */
export class TailConnection {
  /** Resolves once LISTEN runs and the lock is held; rejects when that failed (the connection is then closed). */
  readonly ready: Promise<void>;
  /** Announced references some watcher wants, not read yet, in announcement order. */
  backlog: TimedRef[] = [];
  /** Whether the owner is reading the backlog. */
  reading = false;
  #client: PoolClient | undefined;
  #liveAt = Number.POSITIVE_INFINITY;
  #closed = false;
  #released = false;

  /**
   * Opens the connection.
   *
   * @param presenceValidMs - how long writers trust their "anyone watching?" answer (ms).
   */
  constructor(pool: Pool, logger: Logger, presenceValidMs: number, events: TailConnectionEvents) {
    this.ready = (async () => {
      const client = await pool.connect();
      this.#client = client;
      if (this.#closed) throw new Error("the live tail was closed");
      client.on("notification", (message) => {
        if (!this.#closed) events.notification(message.payload);
      });
      const lost = (error: Error) => {
        if (this.#closed) return;
        this.close(error);
        events.lost(error);
      };
      client.on("error", lost);
      client.on("end", () => lost(new Error("connection ended")));
      // Named for pg_stat_activity: "<pool's name> event-tail" is this process's tail.
      await client.query(`SELECT set_config('application_name', left(current_setting('application_name'), 40) || '${TAIL_SUFFIX}', false)`);
      await listenAndHoldWatchingLock(client);
      if (this.#closed) throw new Error("the live tail was closed");
      // Writers that asked before the lock was visible trust their answer this long at most.
      this.#liveAt = performance.now() + presenceValidMs + LIVE_MARGIN_MS;
      logger.info({ liveInMs: presenceValidMs + LIVE_MARGIN_MS }, "live tail listening; writers on every replica announce their events while it does");
    })();
    this.ready.catch((err: unknown) => {
      if (!this.#closed) logger.warn({ err }, "could not start the live tail");
      this.close(err as Error);
    });
  }

  /** Whether it was closed (deliberately or because it failed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The connection, for reading the announced events (set once {@link ready} resolved). */
  get client(): PoolClient {
    if (!this.#client) throw new Error("the live tail's connection is not open yet");
    return this.#client;
  }

  /** Resolves once the tail is reliably live: ready, and every writer's older answer expired. */
  async live(): Promise<void> {
    await this.ready;
    const wait = this.#liveAt - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** Closes the connection, which ends the LISTEN and releases the lock. Idempotent. */
  close(error?: Error): void {
    this.#closed = true;
    if (this.#released || !this.#client) return;
    this.#released = true;
    // Destroyed rather than returned to the pool: it carries the LISTEN, the lock and the name.
    this.#client.release(error ?? true);
  }
}
