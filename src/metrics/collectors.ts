/**
 * Metrics read at scrape time from numbers the coordinator keeps anyway: the ingest counters, the
 * writer's queue, the decision streams, the pg pool, and (cached) decision counts from Postgres.
 * Nothing here runs on the ingest path.
 */
import type { Pool } from "pg";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { IngestCounters } from "../interactions/counters.js";
import type { WriterStats } from "../interactions/writer-contract.js";
import { DecisionCounts, DECISION_STATUSES, type DecisionCountsOptions } from "./decision-counts.js";

/** What the collectors read (structural, so tests can hand in stand-ins). */
export interface MetricSources {
  ingest: { counters: IngestCounters; writer: { stats(): WriterStats } };
  /** The decision change feed: every open AwaitDecision / WatchDecisions stream subscribes to it. */
  decisionFeed: { subscriberCount: number; watcherCount: number };
  /** The live tail of stored events (WatchInteractions). */
  tail: { openWatchers: number; droppedSlowWatchers: number };
  pool: Pool;
  logger: Logger;
  decisionCounts?: DecisionCountsOptions;
}

/** Registers every scrape-time metric on `registry`. */
export function registerCollectors(registry: Registry, sources: MetricSources): void {
  const registers = [registry];
  const { counters, writer } = sources.ingest;

  new Counter({
    name: "mcpc_ingest_events_received_total",
    help: "Events received on StreamInteractions streams and ReportInteractions calls.",
    registers,
    collect(this: Counter) {
      setCounter(this, {}, counters.received);
    },
  });
  new Counter({
    name: "mcpc_ingest_events_acked_total",
    help: "Events acknowledged, by ack status: stored, duplicate (already stored), rejected (invalid, or refused by the database).",
    labelNames: ["status"],
    registers,
    collect(this: Counter<"status">) {
      this.reset();
      this.inc({ status: "stored" }, counters.stored);
      this.inc({ status: "duplicate" }, counters.duplicates);
      this.inc({ status: "rejected" }, counters.rejected);
    },
  });
  new Gauge({
    name: "mcpc_ingest_streams_open",
    help: "Open StreamInteractions streams (past Hello) on this replica.",
    registers,
    collect(this: Gauge) {
      this.set(counters.openStreams);
    },
  });
  new Gauge({
    name: "mcpc_writer_queued_events",
    help: "Events waiting for a group-commit statement (writer queue depth).",
    registers,
    collect(this: Gauge) {
      this.set(writer.stats().queued);
    },
  });
  new Gauge({
    name: "mcpc_writer_in_flight_events",
    help: "Events in group-commit statements not yet committed.",
    registers,
    collect(this: Gauge) {
      this.set(writer.stats().inFlight);
    },
  });
  new Counter({
    name: "mcpc_writer_failed_attempts_total",
    help: "Group-commit statements that failed (retried after a backoff, or split to isolate a refused event).",
    registers,
    collect(this: Counter) {
      setCounter(this, {}, writer.stats().failedAttempts);
    },
  });
  new Counter({
    name: "mcpc_writer_unannounced_batches_total",
    help: "Group-commit statements stored without announcing their events to live tails because PostgreSQL's NOTIFY queue was full.",
    registers,
    collect(this: Counter) {
      setCounter(this, {}, writer.stats().unannouncedBatches);
    },
  });

  const feed = sources.decisionFeed;
  new Gauge({
    name: "mcpc_decision_streams_open",
    help: "Open decision streams on this replica, by kind: await (AwaitDecision) or watch (WatchDecisions).",
    labelNames: ["kind"],
    registers,
    collect(this: Gauge<"kind">) {
      const watch = feed.watcherCount;
      this.set({ kind: "watch" }, watch);
      this.set({ kind: "await" }, feed.subscriberCount - watch);
    },
  });

  const tail = sources.tail;
  new Gauge({
    name: "mcpc_interaction_watchers_open",
    help: "Open WatchInteractions streams (live tails) on this replica.",
    registers,
    collect(this: Gauge) {
      this.set(tail.openWatchers);
    },
  });
  new Counter({
    name: "mcpc_interaction_watchers_dropped_total",
    help: "WatchInteractions streams this replica ended with RESOURCE_EXHAUSTED because the watcher fell behind.",
    registers,
    collect(this: Counter) {
      setCounter(this, {}, tail.droppedSlowWatchers);
    },
  });

  const decisionCounts = new DecisionCounts(sources.pool, sources.logger, sources.decisionCounts);
  new Gauge({
    name: "mcpc_decisions",
    help: "Decisions in the database (all replicas), by status; read at most every few seconds, absent when the database does not answer.",
    labelNames: ["status"],
    registers,
    async collect(this: Gauge<"status">) {
      const counts = await decisionCounts.read();
      this.reset();
      if (!counts) return;
      for (const [, status] of DECISION_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });

  const pool = sources.pool;
  new Gauge({
    name: "mcpc_db_pool_connections",
    help: "PostgreSQL connections this replica holds, by state: busy (checked out, including the decision feed's LISTEN connection) or idle.",
    labelNames: ["state"],
    registers,
    collect(this: Gauge<"state">) {
      this.set({ state: "busy" }, pool.totalCount - pool.idleCount);
      this.set({ state: "idle" }, pool.idleCount);
    },
  });
  new Gauge({
    name: "mcpc_db_pool_max_connections",
    help: "Most PostgreSQL connections the pool may open (--db-pool-size).",
    registers,
    collect(this: Gauge) {
      this.set(pool.options.max ?? 10);
    },
  });
  new Gauge({
    name: "mcpc_db_pool_waiting_requests",
    help: "Requests waiting for a free PostgreSQL connection.",
    registers,
    collect(this: Gauge) {
      this.set(pool.waitingCount);
    },
  });
}

/** A counter mirrors a number kept elsewhere: set to it at each scrape (it only ever grows). */
function setCounter<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>>, value: number): void {
  counter.reset();
  counter.inc(labels, value);
}
