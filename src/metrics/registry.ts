/**
 * The coordinator's Prometheus metrics, in a registry of its own (not prom-client's global one),
 * so several coordinators in one process (tests) keep apart.
 *
 * Cost on the ingest path: none per event. The counters and gauges are read from numbers the
 * coordinator already keeps, when Prometheus scrapes (collectors.ts); the histograms are observed
 * once per committed batch, from the writer's onCommit hook ({@link CoordinatorMetrics.observeCommit}).
 *
 * Node's standard process and runtime metrics (process_cpu_seconds_total, nodejs_heap_size_*,
 * nodejs_eventloop_lag_*, ...) are included under their usual, unprefixed names: those are the
 * names every exporter uses and ready-made dashboards and alerts expect; Prometheus's job and
 * instance labels already say which process they describe. Only the coordinator's own metrics
 * carry the mcpc_ prefix.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CommitInfo } from "../interactions/writer-contract.js";
import { VERSION } from "../version.js";
import { registerCollectors, type MetricSources } from "./collectors.js";

/** See the module comment. */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly #batchSize: Histogram;
  readonly #commitDuration: Histogram;
  readonly #ackLatencyMax: Histogram;
  readonly #ackLatencySum: Counter;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: "mcpc_build_info", help: "Always 1; the version label says which coordinator runs.", labelNames: ["version"], registers }).set({ version: VERSION }, 1);
    this.#batchSize = new Histogram({
      name: "mcpc_writer_batch_size",
      help: "Events per committed group-commit statement (its _count is the number of commits, its _sum the events they committed).",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers,
    });
    this.#commitDuration = new Histogram({
      name: "mcpc_writer_commit_duration_seconds",
      help: "Time one group-commit statement took, from asking the pool for a connection to the commit.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#ackLatencyMax = new Histogram({
      name: "mcpc_ingest_ack_latency_max_seconds",
      help: "Per committed batch, the ack latency of its oldest (slowest) event: from its hand-off to the writer, as it arrived, to the commit after which its ack is sent. One observation per batch, not per event.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#ackLatencySum = new Counter({
      name: "mcpc_ingest_ack_latency_seconds_total",
      help: "Sum of every committed event's ack latency (hand-off to the writer to commit); its rate divided by the rate of mcpc_writer_batch_size_sum is the mean ack latency.",
      registers,
    });
  }

  /** The writer's onCommit hook: one call per committed statement. Never throws. */
  readonly observeCommit = (commit: CommitInfo): void => {
    // The writer has already told the events' outcomes; a throw here would make it retry the batch.
    try {
      this.#batchSize.observe(commit.events);
      this.#commitDuration.observe(Math.max(0, commit.commitMs) / 1000);
      // Wall-clock differences: max(0) in case the clock was set back meanwhile.
      this.#ackLatencyMax.observe(Math.max(0, commit.maxWaitMs) / 1000);
      this.#ackLatencySum.inc(Math.max(0, commit.totalWaitMs) / 1000);
    } catch {
      // A metric lost is better than an event stored twice.
    }
  };

  /** Adds the metrics read at scrape time from the running coordinator's parts. */
  collectFrom(sources: MetricSources): void {
    registerCollectors(this.registry, sources);
  }
}
