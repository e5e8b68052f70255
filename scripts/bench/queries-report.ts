/**
 * The query benchmark's figures and what it prints: the load, a latency table per read RPC with
 * its target, the ingest comparison (rollups and privacy off against on), the verdicts, and one
 * JSON line with every figure.
 */
import os from "node:os";
import type { Backfill } from "./queries-backfill.js";
import type { QueryBenchOptions } from "./queries-options.js";
import { int, mib, ms, percent, round, table } from "./report.js";

export type QueryName = "metrics-one" | "metrics-all" | "list-first" | "list-first-mcp" | "list-page-100" | "get-with-mcp" | "get-without-mcp";

/** The queries timed, in order: what each is, what its "returned" column counts, and whether the issue names it. */
export const QUERIES: { name: QueryName; label: string; returned: string; required: boolean }[] = [
  { name: "metrics-one", label: "GetPerformanceMetrics 30 days, one MCP", returned: "hour points", required: true },
  { name: "metrics-all", label: "GetPerformanceMetrics 30 days, all MCPs", returned: "MCPs", required: true },
  { name: "list-first", label: "ListInteractions first page", returned: "interactions", required: true },
  { name: "list-page-100", label: "ListInteractions 100th page", returned: "interactions", required: true },
  { name: "list-first-mcp", label: "ListInteractions first page, one MCP", returned: "interactions", required: false },
  { name: "get-with-mcp", label: "GetInteraction with mcp_id", returned: "events", required: true },
  { name: "get-without-mcp", label: "GetInteraction without mcp_id", returned: "events", required: true },
];

export const TARGETS = { p99Ms: 100, ingestRatio: 0.9 };

/** The loaded data set and what loading it took (times absent when it was reused). */
export interface LoadFigures {
  events: number;
  interactions: number;
  mcps: number;
  reused: boolean;
  loadedAt: Date;
  loadSeconds?: number;
  backfill?: Backfill;
  vacuumSeconds?: number;
  /** One RollupJob run over the 100 latest MCP-minutes queued again (the job's load every 5 s). */
  steadyRollupSeconds: number;
  sizes: Record<string, number>;
}

/** One query's figures. */
export interface QueryFigures {
  name: QueryName;
  calls: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  returned: number;
  /** CPU per timed call (ms), of the coordinator child and of PostgreSQL. */
  serverCpuMsPerCall: number;
  postgresCpuMsPerCall: number;
  /** Machine CPU used by other programs over the timed calls (share of one core). */
  otherCpu: number;
  /** Walking to page 100 before the timed calls (list-page-100 only), ms. */
  setupMs: number;
}

/** One ingest round. */
export interface IngestRound {
  round: number;
  /** off: the rollup queue step, trigger and index left out, MCPC_PRIVACY=none; on: the built-in defaults. */
  setting: "off" | "on";
  eventsPerSecond: number;
  p99: number;
  serverCpu: number;
  postgresCpu: number;
  clientCpu: number;
  otherCpu: number;
  /** Checkpoints PostgreSQL started during the window (after one, the first change to each page writes its full image to the WAL). */
  checkpoints: number;
  notStored: number;
  problems: string[];
}

/** Mean ingest rate of a setting over its rounds. */
export function meanRate(rounds: IngestRound[], setting: "off" | "on"): number {
  const of = rounds.filter((r) => r.setting === setting);
  return of.length ? of.reduce((sum, r) => sum + r.eventsPerSecond, 0) / of.length : NaN;
}

export function queryLabel(name: QueryName): string {
  return QUERIES.find((q) => q.name === name)!.label;
}

/** The tables, the verdicts and the JSON line. */
export function queriesReport(
  options: QueryBenchOptions,
  r: { load: LoadFigures | undefined; queries: QueryFigures[]; ingest: IngestRound[]; explained: Record<string, number[]>; elapsedSeconds: number; ranAt: string },
): string {
  const out: string[] = [""];
  const verdict = (ok: boolean | undefined) => (ok === undefined ? "not measured" : ok ? "MET" : "MISSED");
  if (r.load) {
    const l = r.load;
    out.push(
      `DATA SET: ${int(l.events)} events of ${int(l.interactions)} interactions, ${l.mcps} MCPs, spread over the ${options.days} days before ` +
        `${l.loadedAt.toISOString()}${l.reused ? " (reused from an earlier run)" : ""}`,
    );
    out.push(
      table(
        ["step", "value"],
        [
          ["load (generate + INSERT ... unnest, 1 chunk in flight)", l.loadSeconds === undefined ? "reused" : `${l.loadSeconds.toFixed(1)} s (${int(l.events / l.loadSeconds)} events/s)`],
          [
            "rollup backfill (RollupJob.runOnce)",
            !l.backfill
              ? "reused"
              : l.backfill.failure
                ? `as is: failed after ${l.backfill.failure.seconds.toFixed(0)} s (${l.backfill.failure.message}); with the fallback, the remaining ${int(l.backfill.minutes)} MCP-minutes: ${l.backfill.seconds.toFixed(1)} s`
                : `${l.backfill.seconds.toFixed(1)} s for ${int(l.backfill.minutes)} MCP-minutes`,
          ],
          ["VACUUM (ANALYZE) + CHECKPOINT", l.vacuumSeconds === undefined ? "reused" : `${l.vacuumSeconds.toFixed(1)} s`],
          ["one rollup run over 100 fresh MCP-minutes (its work every 5 s)", `${(l.steadyRollupSeconds * 1000).toFixed(0)} ms`],
          ...Object.entries(l.sizes).map(([name, bytes]) => [`size of ${name} (with indexes)`, mib(bytes)]),
        ],
      ),
    );
    out.push("");
  }
  if (r.queries.length) {
    out.push(`QUERY LATENCY: ${options.calls} timed calls per query after ${options.warmupCalls} warm-up calls, sequential (one call at a time, one query after`);
    out.push("another), over real gRPC (nice-grpc, one HTTP/2 connection, operator key) to a coordinator child on the loaded database;");
    out.push("each call includes the access-audit INSERT every read makes. CPU: per timed call, of the coordinator and of PostgreSQL.");
    out.push(
      table(
        ["query", "calls", "p50 ms", "p99 ms", "max ms", "target", "verdict", "returned", "coord CPU ms", "PG CPU ms", "other CPU"],
        r.queries.map((q) => {
          const info = QUERIES.find((x) => x.name === q.name)!;
          return [
            info.label,
            q.calls,
            ms(q.p50),
            ms(q.p99),
            ms(q.max),
            `p99 <= ${TARGETS.p99Ms} ms`,
            info.required ? verdict(q.p99 <= TARGETS.p99Ms) : `(${verdict(q.p99 <= TARGETS.p99Ms)})`,
            `${q.returned.toFixed(q.returned % 1 ? 2 : 0)} ${info.returned}`,
            ms(q.serverCpuMsPerCall),
            ms(q.postgresCpuMsPerCall),
            percent(q.otherCpu),
          ];
        }),
      ),
    );
    const page = r.queries.find((q) => q.name === "list-page-100");
    if (page) out.push(`(the 100th page's token was reached by following next_page_token from page 1: 99 calls in ${(page.setupMs / 1000).toFixed(1)} s)`);
    out.push("(in parentheses: not one of the issue's named targets, shown for comparison)");
    out.push("");
  }
  const off = meanRate(r.ingest, "off");
  const on = meanRate(r.ingest, "on");
  const ratio = on / off;
  if (r.ingest.length) {
    out.push(
      `INGEST: rollups and privacy on vs off, closed loop, ${options.ingestStreams} streams x window ${options.ingestWindow}, ${options.ingestDurationMs / 1000} s measured after ` +
        `${options.ingestWarmupMs / 1000} s warm-up per round;`,
    );
    out.push("a fresh coordinator child per round on a fresh, emptied database per setting (off: the writer's rollup queue step left out,");
    out.push("interactions_rollup_moved and interactions_mcp_ended_idx dropped, MCPC_PRIVACY=none; on: built-in defaults); rounds in ABBA");
    out.push("order. CPU in % of one core.");
    out.push(
      table(
        ["round", "setting", "events/s", "p99 ack ms", "coord CPU", "PG CPU", "client CPU", "other CPU", "checkpoints"],
        r.ingest.map((x) => [
          x.round,
          x.setting,
          int(x.eventsPerSecond),
          ms(x.p99),
          percent(x.serverCpu),
          percent(x.postgresCpu),
          percent(x.clientCpu),
          percent(x.otherCpu),
          x.checkpoints,
        ]),
      ),
    );
    out.push(`mean: off ${int(off)} events/s, on ${int(on)} events/s: on/off ${percent(ratio)}`);
    out.push(`on/off within each round (the two settings measured back to back): ${pairedRatios(r.ingest).map(percent).join(", ")}`);
    for (const setting of ["off", "on"] as const) {
      const cpu = cpuPerEvent(r.ingest, setting);
      out.push(`CPU per event, ${setting}: coordinator ${cpu.server.toFixed(1)} µs, PostgreSQL ${cpu.postgres.toFixed(1)} µs, client ${cpu.client.toFixed(1)} µs`);
    }
    out.push("");
  }

  out.push(`TARGETS (2-core machine; coordinator, client and PostgreSQL on it; run ${r.ranAt})`);
  const rows: [string, string, string][] = QUERIES.filter((q) => q.required).map((q) => {
    const f = r.queries.find((x) => x.name === q.name);
    return [`${q.label}: p99 <= ${TARGETS.p99Ms} ms`, f ? `${ms(f.p99)} ms` : "n/a", verdict(f ? f.p99 <= TARGETS.p99Ms : undefined)];
  });
  rows.push([
    `ingest with rollups + privacy >= ${percent(TARGETS.ingestRatio)} of without`,
    Number.isFinite(ratio) ? `${percent(ratio)} (${int(on)} / ${int(off)} events/s)` : "n/a",
    verdict(Number.isFinite(ratio) ? ratio >= TARGETS.ingestRatio : undefined),
  ]);
  out.push(table(["target", "measured", "verdict"], rows));
  const backfillFailure = r.load?.backfill?.failure;
  if (backfillFailure) out.push(`PROBLEM: the rollup backfill failed as is (${backfillFailure.message}) and was finished with the planner fallback of queries-backfill.ts`);
  const problems = r.ingest.flatMap((x) => [...x.problems, ...(x.notStored ? [`${x.notStored} acks not STORED`] : [])].map((p) => `ingest round ${x.round} ${x.setting}: ${p}`));
  if (problems.length) out.push(`PROBLEMS: ${problems.join("; ")}`);
  out.push(`total time ${r.elapsedSeconds.toFixed(0)} s`);

  const json = {
    benchmark: "queries",
    ranAt: r.ranAt,
    options: {
      events: options.events,
      mcps: options.mcps,
      calls: options.calls,
      warmupCalls: options.warmupCalls,
      ingestStreams: options.ingestStreams,
      ingestWindow: options.ingestWindow,
      ingestDurationMs: options.ingestDurationMs,
      ingestRounds: options.ingestRounds,
    },
    machine: { cpus: os.cpus().length, node: process.version, loadAverage: os.loadavg().map((l) => round(l, 2)) },
    load: r.load ? { ...r.load, loadedAt: r.load.loadedAt.toISOString() } : null,
    queries: r.queries.map((q) => ({
      ...q,
      p50: round(q.p50),
      p99: round(q.p99),
      max: round(q.max),
      mean: round(q.mean),
      returned: round(q.returned, 2),
      serverCpuMsPerCall: round(q.serverCpuMsPerCall),
      postgresCpuMsPerCall: round(q.postgresCpuMsPerCall),
      otherCpu: round(q.otherCpu),
      setupMs: round(q.setupMs, 0),
      met: q.p99 <= TARGETS.p99Ms,
    })),
    explainedExecutionMs: r.explained,
    ingest: r.ingest.map((x) => ({
      ...x,
      eventsPerSecond: round(x.eventsPerSecond, 0),
      p99: round(x.p99),
      serverCpu: round(x.serverCpu),
      postgresCpu: round(x.postgresCpu),
      clientCpu: round(x.clientCpu),
      otherCpu: round(x.otherCpu),
    })),
    targets: {
      p99Ms: TARGETS.p99Ms,
      queriesMet: Object.fromEntries(QUERIES.filter((q) => q.required).map((q) => [q.name, r.queries.find((x) => x.name === q.name) ? r.queries.find((x) => x.name === q.name)!.p99 <= TARGETS.p99Ms : null])),
      ingestOff: round(off, 0),
      ingestOn: round(on, 0),
      ingestRatio: round(ratio),
      ingestMet: Number.isFinite(ratio) ? ratio >= TARGETS.ingestRatio : null,
    },
    problems,
  };
  out.push(JSON.stringify(json));
  return out.join("\n");
}

/** Each round's on/off throughput ratio (both settings of a round run back to back). */
function pairedRatios(rounds: readonly IngestRound[]): number[] {
  const ratios: number[] = [];
  for (const on of rounds.filter((x) => x.setting === "on")) {
    const off = rounds.find((x) => x.setting === "off" && x.round === on.round);
    if (off) ratios.push(on.eventsPerSecond / off.eventsPerSecond);
  }
  return ratios;
}

/** CPU µs per event stored, per process, over all rounds of `setting` (total CPU / total events). */
function cpuPerEvent(rounds: readonly IngestRound[], setting: IngestRound["setting"]): { server: number; postgres: number; client: number } {
  const of = rounds.filter((x) => x.setting === setting);
  // Rounds last equally long, so share-of-a-core / events-per-second sums weight them alike.
  const events = of.reduce((sum, x) => sum + x.eventsPerSecond, 0);
  const per = (cpu: (x: IngestRound) => number) => (1e6 * of.reduce((sum, x) => sum + cpu(x), 0)) / events;
  return { server: per((x) => x.serverCpu), postgres: per((x) => x.postgresCpu), client: per((x) => x.clientCpu) };
}
