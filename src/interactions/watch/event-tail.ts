/**
 * This replica's live tail of stored events (WatchInteractions), fed by every replica's writers.
 *
 * While it has at least one watcher, the tail keeps one dedicated connection that LISTENs on the
 * events channel and holds the shared watching lock (channel.ts), which makes every writer
 * announce its new events. A notification carries references only; the tail keeps those some
 * watcher wants, reads just those events (on the same connection, so watchers never take pool
 * connections from ingest), and hands each to the bounded queue of every watcher it matches.
 * With the last watcher gone the connection is closed, which releases the lock: nobody watching
 * means no announcing anywhere.
 *
 * Live means reliable: a watcher is told it is live (its response headers are sent) only once
 * LISTEN runs, the lock is held, and every writer's cached "anyone watching?" answer from before
 * the lock has expired (tail-connection.ts). If the connection drops, events in the gap cannot
 * be told, so every watcher is ended (UNAVAILABLE, reconnect) rather than silently skipping
 * them; the next watcher opens a new connection.
 */
import { create } from "@bufbuild/protobuf";
import { AbortError } from "abort-controller-x";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { WatchInteractionsResponseSchema, type WatchInteractionsResponse } from "../../../gen/coordinator/v1/interaction_query_pb.js";
import { toStoredEvent } from "../read/interaction-mapping.js";
import { QueryError } from "../read/query-error.js";
import { DEFAULT_PRESENCE_TIMING, parseAnnouncement } from "./channel.js";
import { TailConnection } from "./tail-connection.js";
import { wants, type WatchFilter } from "./watch-filter.js";
import { fetchAnnouncedEvents } from "./watch-queries.js";
import { Ended, WatcherQueue, type QueueEnd } from "./watcher-queue.js";

/** Tuning; the defaults suit production. */
export interface EventTailOptions {
  /**
   * Events a watcher may fall behind before it is ended with RESOURCE_EXHAUSTED. Default
   * {@link DEFAULT_QUEUE_LIMIT}.
   */
  queueLimit?: number;
  /** Encoded event bytes a watcher may fall behind by before it is ended the same way. Default {@link DEFAULT_QUEUE_BYTES}. */
  queueBytes?: number;
  /**
   * How long writers trust their "anyone watching?" answer (ms); must be the writers' value on
   * every replica (watcher-presence.ts). Default 2 s.
   */
  presenceValidMs?: number;
  /**
   * References read per query. Default 250, or a quarter of queueLimit when that is smaller: a
   * read hands its events to a watcher's queue all at once, so it must fit well within the queue
   * even when a watcher that keeps up still has some queued.
   */
  fetchBatch?: number;
  /** References waiting to be read beyond which every watcher is cut off (RESOURCE_EXHAUSTED). Default 100,000. */
  maxBacklog?: number;
}

/**
 * How far a watcher may fall behind, in events. Well above one writer statement (up to 1,000
 * events, two at a time per replica): a watcher that keeps up on average must survive a burst,
 * since a statement's events reach its queue within milliseconds while a client takes them one
 * message at a time.
 */
export const DEFAULT_QUEUE_LIMIT = 10_000;

/** How far a watcher may fall behind, in encoded event bytes: what bounds its memory (events go up to 64 KiB). */
export const DEFAULT_QUEUE_BYTES = 16 * 1024 * 1024;

interface Watcher {
  filter: WatchFilter;
  queue: WatcherQueue<WatchInteractionsResponse>;
}

/** See the module comment. */
export class EventTail {
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #options: Required<EventTailOptions>;
  readonly #watchers = new Set<Watcher>();
  #droppedSlow = 0;
  #connection: TailConnection | undefined;
  #shuttingDown = false;

  constructor(pool: Pool, logger: Logger, options: EventTailOptions = {}) {
    this.#pool = pool;
    this.#logger = logger.child({ component: "event-tail" });
    const queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    this.#options = {
      queueLimit,
      queueBytes: DEFAULT_QUEUE_BYTES,
      presenceValidMs: DEFAULT_PRESENCE_TIMING.validMs,
      fetchBatch: Math.max(1, Math.min(250, Math.floor(queueLimit / 4))),
      maxBacklog: 100_000,
      ...options,
    };
  }

  /** WatchInteractions streams open on this replica. */
  get openWatchers(): number {
    return this.#watchers.size;
  }

  /** Watchers this replica dropped for falling behind, since start. */
  get droppedSlowWatchers(): number {
    return this.#droppedSlow;
  }

  /**
   * One watcher: every event stored from when `onLive` is called, on any replica, that `filter`
   * wants.
   *
   * @param onLive - called once the tail is reliably live for this watcher (send the headers).
   * @throws QueryError resource_exhausted (the watcher fell behind) or unavailable (shutdown,
   *   or the database connection failed or dropped); AbortError when `signal` aborts.
   */
  async *watch(filter: WatchFilter, signal: AbortSignal, onLive: () => void): AsyncGenerator<WatchInteractionsResponse> {
    if (this.#shuttingDown) throw new QueryError("unavailable", "the coordinator is shutting down; reconnect (to another replica)");
    const watcher: Watcher = { filter, queue: new WatcherQueue(this.#options.queueLimit, this.#options.queueBytes) };
    const onAbort = () => this.#drop(watcher, "cancelled");
    this.#watchers.add(watcher);
    signal.addEventListener("abort", onAbort);
    if (signal.aborted) onAbort();
    try {
      let live: true | QueueEnd;
      try {
        live = await Promise.race([this.#live(), watcher.queue.whenEnded()]);
      } catch (error) {
        throw new QueryError("unavailable", `the live tail cannot start: the database did not answer (${(error as Error).message}); retry`);
      }
      if (live !== true) throw this.#endError(live);
      onLive();
      for (;;) {
        const item = await watcher.queue.next();
        if (item instanceof Ended) throw this.#endError(item.reason);
        yield item;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#watchers.delete(watcher);
      this.#closeIfIdle();
    }
  }

  /** Shutdown, step one: ends every watcher with UNAVAILABLE and refuses new ones. */
  closeAll(): void {
    this.#shuttingDown = true;
    this.#endAll("shutdown");
  }

  /** Shutdown, step two: closes the connection (releasing the lock). */
  close(): void {
    this.closeAll();
    this.#connection?.close();
    this.#connection = undefined;
  }

  #endError(reason: QueueEnd): Error {
    switch (reason) {
      case "overflow":
        return new QueryError(
          "resource_exhausted",
          `the watcher fell behind (more than ${this.#options.queueLimit} events or ${Math.round(this.#options.queueBytes / 1024 / 1024)} MiB waiting for it) and was dropped rather than slow ingest; reconnect, and read what was missed with ListInteractions`,
        );
      case "lost":
        return new QueryError("unavailable", "the live tail lost its database connection, so events may have been missed; reconnect");
      case "shutdown":
        return new QueryError("unavailable", "the coordinator is shutting down; reconnect (to another replica)");
      case "cancelled":
        return new AbortError();
    }
  }

  /** Resolves once the tail is reliably live (opening the connection if needed). */
  async #live(): Promise<true> {
    const connection = (this.#connection ??= this.#open());
    await connection.live();
    return true;
  }

  #open(): TailConnection {
    const connection: TailConnection = new TailConnection(this.#pool, this.#logger, this.#options.presenceValidMs, {
      notification: (payload) => this.#announced(connection, payload),
      lost: (error) => this.#lost(connection, error),
    });
    // A connection that could not start is forgotten: the next watcher opens another.
    connection.ready.catch(() => {
      if (this.#connection === connection) this.#connection = undefined;
    });
    return connection;
  }

  /** Closes the connection when no watcher is left: that releases the lock, and writers stop announcing. */
  #closeIfIdle(): void {
    const connection = this.#connection;
    if (this.#watchers.size > 0 || !connection) return;
    this.#connection = undefined;
    if (!connection.closed) this.#logger.info("live tail closed: no watcher left on this replica");
    connection.close();
  }

  #lost(connection: TailConnection, error: Error): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    this.#logger.warn({ err: error, watchers: this.#watchers.size }, "live tail lost its database connection; its watchers are ended (they reconnect)");
    this.#endAll("lost");
  }

  /**
   * Ends a watcher and forgets it at once: its stream may stay blocked on a client that does not
   * read, but it no longer counts, matches or keeps the connection (and the lock) open.
   */
  #drop(watcher: Watcher, reason: QueueEnd): void {
    if (reason === "overflow") this.#droppedSlow++;
    watcher.queue.end(reason);
    this.#watchers.delete(watcher);
    this.#closeIfIdle();
  }

  #endAll(reason: QueueEnd): void {
    for (const watcher of this.#watchers) watcher.queue.end(reason);
    this.#watchers.clear();
    this.#closeIfIdle();
  }

  /** A notification: keeps the references some watcher wants, and reads them. */
  #announced(connection: TailConnection, payload: string | undefined): void {
    const announcement = parseAnnouncement(payload);
    if (!announcement) {
      this.#logger.warn({ payload: payload?.slice(0, 200) }, "ignoring a notification that is not an event announcement");
      return;
    }
    for (const ref of announcement.refs) {
      for (const watcher of this.#watchers) {
        if (wants(watcher.filter, ref.mcpId, ref.interactionId, ref.kind)) {
          connection.backlog.push({ ...ref, receivedAt: announcement.receivedAt });
          break;
        }
      }
    }
    if (connection.backlog.length > this.#options.maxBacklog) {
      this.#logger.warn({ backlog: connection.backlog.length }, "live tail fell behind the announcements; its watchers are ended");
      connection.backlog = [];
      this.#endAll("overflow");
      return;
    }
    void this.#read(connection);
  }

  /** Reads the backlog, one query at a time, in announcement order. */
  async #read(connection: TailConnection): Promise<void> {
    if (connection.reading) return;
    connection.reading = true;
    try {
      while (connection.backlog.length > 0 && !connection.closed) {
        const refs = connection.backlog.splice(0, this.#options.fetchBatch);
        const rows = await fetchAnnouncedEvents(connection.client, refs);
        for (const row of rows) {
          let response: WatchInteractionsResponse | undefined;
          for (const watcher of this.#watchers) {
            if (!wants(watcher.filter, row.mcp_id, row.interaction_id, row.kind)) continue;
            // Built once, whatever the number of watchers it goes to.
            response ??= create(WatchInteractionsResponseSchema, { event: toStoredEvent(row, row.mcp_id) });
            watcher.queue.push(response, row.payload.length);
            // Too slow: dropped (see #drop); the others go on.
            if (watcher.queue.ended) this.#drop(watcher, "overflow");
          }
        }
      }
    } catch (error) {
      // The announced events cannot be read: the watchers would miss them, so they end.
      if (!connection.closed) {
        connection.close(error as Error);
        this.#lost(connection, error as Error);
      }
    } finally {
      connection.reading = false;
    }
  }
}
