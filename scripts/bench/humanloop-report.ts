/**
 * The human-loop benchmark's report: tables, the verdicts against issue #4's targets, and one
 * JSON line with every figure.
 */
import os from "node:os";
import { Histogram, type HistogramData } from "./histogram.js";
import type { FanoutResult } from "./humanloop-awaiters.js";
import type { LatencyResult } from "./humanloop-latency.js";
import type { HumanLoopBenchOptions } from "./humanloop-options.js";
import { int, mib, ms, percent, round, table } from "./report.js";

/** The targets of issue #4. */
export const HUMANLOOP_TARGETS = { sameReplicaP99Ms: 5, crossReplicaP99Ms: 20, bytesPerAwaiter: 16 * 1024 };

/** The latency section, with what the processes used over its measured window. */
export interface LatencyFigures {
  result: LatencyResult;
  /** Shares of one core over the measured samples. */
  serverCpuA: number;
  serverCpuB: number;
  postgresCpu: number;
  clientCpu: number;
  otherCpu: number;
  /** p99 of each coordinator's event-loop delay over the window (ms). */
  loopDelayP99A: number;
  loopDelayP99B: number;
  loadAverage: string;
}

/** The memory section. */
export interface MemoryFigures {
  streams: number;
  /** Streams open and waiting when the memory was read. */
  waiting: number;
  connections: number;
  openSeconds: number;
  rssBeforeBytes: number;
  rssAfterOpenBytes: number;
  rssAfterBytes: number;
  bytesPerStream: number;
  heapBytesPerStream: number;
  /** V8 "external" memory (Buffers and other memory V8 objects hold outside the heap). */
  externalBytesPerStream: number;
  clientRssBytes: number;
  createSeconds: number;
  problems: string[];
}

/** The fan-out section. */
export interface FanoutFigures {
  result: FanoutResult;
  serverCpu: number;
  postgresCpu: number;
  clientCpu: number;
  otherCpu: number;
  loopDelayP99: number;
  loadAverage: string;
}

/** Percentiles of a histogram, for tables and JSON. */
function summary(data: HistogramData) {
  const h = Histogram.from(data);
  return { count: h.count, p50: h.percentile(50), p99: h.percentile(99), p999: h.percentile(99.9), max: h.max(), mean: h.mean() };
}

function roundAll(s: ReturnType<typeof summary>) {
  return { count: s.count, p50: round(s.p50), p99: round(s.p99), p999: round(s.p999), max: round(s.max), mean: round(s.mean) };
}

function merged(...data: HistogramData[]): HistogramData {
  const h = new Histogram();
  for (const d of data) h.merge(d);
  return h.toJSON();
}

/** The tables, the verdicts and the JSON line. */
export function humanLoopReport(
  options: HumanLoopBenchOptions,
  { latency, memory, fanout, elapsedSeconds }: { latency?: LatencyFigures; memory?: MemoryFigures; fanout?: FanoutFigures; elapsedSeconds: number },
): string {
  const out: string[] = [""];
  let same: ReturnType<typeof summary> | undefined;
  let cross: ReturnType<typeof summary> | undefined;
  if (latency) {
    const r = latency.result;
    same = summary(r.same.notify);
    cross = summary(r.cross.notify);
    out.push(
      `LATENCY: ${int(options.samples)} decisions per path after ${options.warmupSamples} warm-up, one at a time, the two paths alternating;` +
        " each: CreateDecision on A, AwaitDecision until its PENDING state, then Respond (accept) on A",
    );
    out.push('(times in ms, both ends read in the load process; "outcome" = the COMPLETED state arriving on the await stream)');
    const row = (name: string, s: ReturnType<typeof summary>) => [name, s.count, ms(s.p50), ms(s.p99), ms(s.p999), ms(s.max), ms(s.mean)];
    out.push(
      table(
        ["interval", "n", "p50", "p99", "p99.9", "max", "mean"],
        [
          row("Respond reply -> outcome, same replica (await on A)", same),
          row("Respond reply -> outcome, across replicas (await on B)", cross),
          row("Respond sent -> outcome, same replica", summary(r.same.total)),
          row("Respond sent -> outcome, across replicas", summary(r.cross.total)),
          row("Respond round trip (A, both paths)", summary(merged(r.same.respond, r.cross.respond))),
          row("CreateDecision round trip (A)", summary(r.create)),
          row("AwaitDecision opened -> PENDING state, on A", summary(r.same.attach)),
          row("AwaitDecision opened -> PENDING state, on B", summary(r.cross.attach)),
        ],
      ),
    );
    out.push(
      `outcome before the Respond reply (counted as 0): same replica ${r.same.beforeReply}, across replicas ${r.cross.beforeReply}; ` +
        `${r.seconds.toFixed(1)} s measured`,
    );
    out.push(
      `CPU over the window (% of one core): A ${percent(latency.serverCpuA)}, B ${percent(latency.serverCpuB)}, PostgreSQL ${percent(latency.postgresCpu)}, ` +
        `load ${percent(latency.clientCpu)}, other programs ${percent(latency.otherCpu)}; event-loop delay p99 A ${ms(latency.loopDelayP99A)} ms, ` +
        `B ${ms(latency.loopDelayP99B)} ms; load average at the end ${latency.loadAverage}`,
    );
  }
  if (memory) {
    out.push("");
    out.push(
      `AWAITERS: ${int(memory.streams)} AwaitDecision streams on coordinator M, each on its own pending decision, ` +
        `${options.streamsPerConnection} per HTTP/2 connection (${memory.connections} connections), held ${options.holdMs / 1000} s`,
    );
    out.push(
      table(
        ["figure", "value"],
        [
          ["decisions created beforehand (CreateDecision on B)", `${int(memory.streams)} in ${memory.createSeconds.toFixed(1)} s`],
          ["M's RSS, empty after a warm-up round (after GC)", mib(memory.rssBeforeBytes)],
          ["M's RSS, right after every stream had its PENDING state", mib(memory.rssAfterOpenBytes)],
          [`M's RSS, after ${options.holdMs / 1000} s open (after GC)`, mib(memory.rssAfterBytes)],
          ["RSS per awaiting stream", `${int(memory.bytesPerStream)} B (${(memory.bytesPerStream / 1024).toFixed(1)} KiB)`],
          ["JS heap per awaiting stream (after GC)", `${int(memory.heapBytesPerStream)} B`],
          ["V8 external memory per awaiting stream", `${int(memory.externalBytesPerStream)} B`],
          ["streams still waiting when measured", int(memory.waiting)],
          ["time to open all (until every PENDING state)", `${memory.openSeconds.toFixed(1)} s`],
          ["load process RSS", mib(memory.clientRssBytes)],
        ],
      ),
    );
  }
  if (fanout) {
    const r = fanout.result;
    const delivery = summary(r.replyToDelivery);
    const respond = summary(r.respondRoundTrip);
    out.push("");
    out.push(
      `FAN-OUT: Respond (accept) to each of the ${int(r.decisions)} awaited decisions on M, ${options.respondConcurrency} calls in flight ` +
        "over 4 connections, as fast as they complete; every stream waits for its COMPLETED state",
    );
    out.push(
      table(
        ["figure", "value"],
        [
          ["first Respond sent -> last outcome on a stream", `${ms(r.firstSendToLastDeliveryMs)} ms`],
          ["first Respond sent -> last Respond reply", `${ms(r.respondMs)} ms (${int((r.decisions / r.respondMs) * 1000)} Responds/s)`],
          ["last Respond reply -> last outcome on a stream", `${ms(r.lastReplyToLastDeliveryMs)} ms`],
          ["per decision: its Respond reply -> its outcome, p50 / p99 / max", `${ms(delivery.p50)} / ${ms(delivery.p99)} / ${ms(delivery.max)} ms`],
          ["per decision: Respond round trip, p50 / p99 / max", `${ms(respond.p50)} / ${ms(respond.p99)} / ${ms(respond.max)} ms`],
          ["outcomes delivered / streams ended OK", `${int(r.delivered)} / ${int(r.endedOk)}`],
          [
            "CPU (% of one core): M / PostgreSQL / load / other",
            `${percent(fanout.serverCpu)} / ${percent(fanout.postgresCpu)} / ${percent(fanout.clientCpu)} / ${percent(fanout.otherCpu)}`,
          ],
          ["M's event-loop delay p99", `${ms(fanout.loopDelayP99)} ms`],
          ["load average at the end", fanout.loadAverage],
        ],
      ),
    );
  }

  out.push("");
  out.push("TARGETS (2-core machine; load, coordinators and PostgreSQL all on it)");
  const verdict = (ok: boolean | undefined) => (ok === undefined ? "not measured" : ok ? "MET" : "MISSED");
  const t = HUMANLOOP_TARGETS;
  out.push(
    table(
      ["target", "measured", "verdict"],
      [
        [
          `p99 Respond reply -> outcome, same replica <= ${t.sameReplicaP99Ms} ms`,
          same ? `${ms(same.p99)} ms` : "n/a",
          verdict(same ? same.p99 <= t.sameReplicaP99Ms : undefined),
        ],
        [
          `p99 Respond reply -> outcome, across replicas <= ${t.crossReplicaP99Ms} ms`,
          cross ? `${ms(cross.p99)} ms` : "n/a",
          verdict(cross ? cross.p99 <= t.crossReplicaP99Ms : undefined),
        ],
        [
          `RSS per awaiting stream <= ${t.bytesPerAwaiter / 1024} KiB`,
          memory ? `${(memory.bytesPerStream / 1024).toFixed(1)} KiB` : "n/a",
          verdict(memory ? memory.bytesPerStream <= t.bytesPerAwaiter : undefined),
        ],
        [
          `fan-out of ${int(options.awaiters)} outcomes (no target)`,
          fanout ? `${(fanout.result.firstSendToLastDeliveryMs / 1000).toFixed(1)} s from the first Respond` : "n/a",
          "-",
        ],
      ],
    ),
  );
  const problems = [
    ...(latency?.result.problems.map((p) => `latency: ${p}`) ?? []),
    ...(memory?.problems.map((p) => `awaiters: ${p}`) ?? []),
    ...(fanout?.result.problems.map((p) => `fan-out: ${p}`) ?? []),
  ];
  if (memory && memory.waiting !== memory.streams) problems.push(`awaiters: only ${memory.waiting} of ${memory.streams} streams waiting when measured`);
  if (fanout && fanout.result.endedOk !== fanout.result.decisions)
    problems.push(`fan-out: ${fanout.result.decisions - fanout.result.endedOk} streams did not end OK`);
  if (problems.length) out.push(`PROBLEMS: ${problems.join("; ")}`);
  out.push(`total time ${elapsedSeconds.toFixed(0)} s`);

  const json = {
    benchmark: "humanloop",
    options: {
      samples: options.samples,
      warmupSamples: options.warmupSamples,
      awaiters: options.awaiters,
      streamsPerConnection: options.streamsPerConnection,
      createConcurrency: options.createConcurrency,
      respondConcurrency: options.respondConcurrency,
      holdMs: options.holdMs,
    },
    machine: { cpus: os.cpus().length, node: process.version },
    latency: latency
      ? {
          sameReplica: roundAll(summary(latency.result.same.notify)),
          crossReplica: roundAll(summary(latency.result.cross.notify)),
          sameReplicaFromSend: roundAll(summary(latency.result.same.total)),
          crossReplicaFromSend: roundAll(summary(latency.result.cross.total)),
          respondRoundTrip: roundAll(summary(merged(latency.result.same.respond, latency.result.cross.respond))),
          createRoundTrip: roundAll(summary(latency.result.create)),
          beforeReply: { same: latency.result.same.beforeReply, cross: latency.result.cross.beforeReply },
          cpu: {
            serverA: round(latency.serverCpuA),
            serverB: round(latency.serverCpuB),
            postgres: round(latency.postgresCpu),
            client: round(latency.clientCpu),
            other: round(latency.otherCpu),
          },
          loopDelayP99Ms: { a: round(latency.loopDelayP99A), b: round(latency.loopDelayP99B) },
          loadAverage: latency.loadAverage,
        }
      : null,
    memory: memory
      ? {
          ...memory,
          bytesPerStream: Math.round(memory.bytesPerStream),
          heapBytesPerStream: Math.round(memory.heapBytesPerStream),
          externalBytesPerStream: Math.round(memory.externalBytesPerStream),
          openSeconds: round(memory.openSeconds),
          createSeconds: round(memory.createSeconds),
        }
      : null,
    fanout: fanout
      ? {
          decisions: fanout.result.decisions,
          firstSendToLastDeliveryMs: round(fanout.result.firstSendToLastDeliveryMs),
          respondMs: round(fanout.result.respondMs),
          lastReplyToLastDeliveryMs: round(fanout.result.lastReplyToLastDeliveryMs),
          replyToDelivery: roundAll(summary(fanout.result.replyToDelivery)),
          respondRoundTrip: roundAll(summary(fanout.result.respondRoundTrip)),
          delivered: fanout.result.delivered,
          endedOk: fanout.result.endedOk,
          cpu: { server: round(fanout.serverCpu), postgres: round(fanout.postgresCpu), client: round(fanout.clientCpu), other: round(fanout.otherCpu) },
          loopDelayP99Ms: round(fanout.loopDelayP99),
          loadAverage: fanout.loadAverage,
        }
      : null,
    targets: {
      sameReplicaP99Ms: same ? round(same.p99) : null,
      sameReplicaMet: same ? same.p99 <= t.sameReplicaP99Ms : null,
      crossReplicaP99Ms: cross ? round(cross.p99) : null,
      crossReplicaMet: cross ? cross.p99 <= t.crossReplicaP99Ms : null,
      bytesPerAwaiter: memory ? Math.round(memory.bytesPerStream) : null,
      memoryMet: memory ? memory.bytesPerStream <= t.bytesPerAwaiter : null,
    },
    problems,
  };
  out.push(JSON.stringify(json));
  return out.join("\n");
}
