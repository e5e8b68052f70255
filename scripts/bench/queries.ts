/**
 * `npm run bench:queries`: the read-side benchmark of issue 5, in one run on one machine.
 *
 * Processes: this one orchestrates (databases, the data load, keys, sampling CPU, printing); the
 * coordinator runs in a child (server-child.ts) so its CPU is its own; the read calls come from
 * another child (queries-rpc-child.ts) and the ingest load from load-child.ts; PostgreSQL runs as
 * its own processes.
 *
 * Measured:
 * 1. queries: 5 million events over 30 days for 50 MCPs, loaded straight into the database
 *    (queries-load.ts; load, rollup backfill and VACUUM timed), then the latency of
 *    GetPerformanceMetrics (30 days, one MCP and all), ListInteractions (first and 100th page)
 *    and GetInteraction (with and without mcp_id), one call at a time over gRPC, each against
 *    its target (p99 <= 100 ms); a query that misses it is EXPLAINed (queries-explain.ts);
 * 2. ingest: throughput with rollups and privacy on against off (queries-ingest.ts), target on/off
 *    >= 90%.
 * Prints tables, the verdicts, and one JSON line with every figure.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createKey } from "../../src/auth/keys.js";
import { printProfiles } from "./cpu-profile.js";
import { openBenchDatabase, type BenchDatabase } from "./database.js";
import { Histogram } from "./histogram.js";
import { Child, cpuMs, machineBusyMs, treeCpuMs } from "./proc.js";
import { mcpIds } from "./queries-dataset.js";
import { steadyStateRun } from "./queries-backfill.js";
import { explainQuery, plansText } from "./queries-explain.js";
import { ingestComparison } from "./queries-ingest.js";
import { loadDataset, loadedDataset, sampleInteractions, tableSizes } from "./queries-load.js";
import { parseQueryOptions } from "./queries-options.js";
import { QUERIES, queriesReport, queryLabel, TARGETS, type IngestRound, type LoadFigures, type QueryFigures } from "./queries-report.js";
import type { QueryJob, QueryResult } from "./queries-rpc-child.js";
import { quietWaiter } from "./quiet.js";
import { int, mib, ms } from "./report.js";
import { cleanUpOnSignals, runBenchmark, stopBenchProcesses } from "./teardown.js";

const DAY = 86_400_000;
const startedAt = performance.now();
const ranAt = new Date().toISOString();
const options = parseQueryOptions(process.argv.slice(2));
const runTag = randomBytes(3).toString("hex");
const children = new Set<Child>();
const databases = new Set<BenchDatabase>();
/** Waits for a quiet machine, within one time budget for the whole run. */
const quiet = quietWaiter(options.quietWaitMs);
let serverCounter = 0;

let cleaning: Promise<void> | undefined;

cleanUpOnSignals(cleanup);

/**
 * Stops the children, then every database. One run shared by all callers: a second signal (or
 * main's own failure path) waits for it instead of exiting while PostgreSQL is still stopping.
 */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopBenchProcesses(children, undefined);
    for (const database of databases) await stopBenchProcesses([], database);
    databases.clear();
  })();
  return cleaning;
}

async function main(): Promise<void> {
  console.log(setupText());
  let load: LoadFigures | undefined;
  let queries: QueryFigures[] = [];
  let explained: Record<string, number[]> = {};
  let ingest: IngestRound[] = [];
  if (options.sections.has("queries")) ({ load, queries, explained } = await queriesSection());
  if (options.sections.has("ingest")) {
    ingest = await ingestComparison({
      options,
      runTag,
      track,
      untrack: (child) => children.delete(child),
      trackDatabase: (database) => databases.add(database),
      quiet,
      serverFlags,
    });
  }
  console.log(queriesReport(options, { load, queries, ingest, explained, elapsedSeconds: (performance.now() - startedAt) / 1000, ranAt }));
  if (options.cpuProfDir) console.log(`\nCPU profiles of the coordinator children:\n${printProfiles(options.cpuProfDir)}`);
}

/** What the run was done on, printed first. */
function setupText(): string {
  return [
    "query benchmark (npm run bench:queries)",
    `machine: ${os.cpus().length} CPU (${os.cpus()[0]?.model ?? "?"}), ${mib(os.totalmem())} RAM, load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}; node ${process.version}`,
    "processes: coordinator in its own child (server-child.ts, startCoordinator, built-in defaults, pool of 10); the read calls",
    "  in another (queries-rpc-child.ts) and the ingest load in another (load-child.ts); PostgreSQL; this process loads the data",
    "",
  ].join("\n");
}

/** Load (or reuse) the data set, time every query, EXPLAIN those that miss. */
async function queriesSection(): Promise<{ load: LoadFigures; queries: QueryFigures[]; explained: Record<string, number[]> }> {
  const db = await openBenchDatabase(4, { dataDir: options.reuseDir });
  databases.add(db);
  console.log(`queries: PostgreSQL ${db.serverVersion}, ${db.description}`);
  let dataset = await loadedDataset(db.pool);
  let times: Awaited<ReturnType<typeof loadDataset>> | undefined;
  const fits = dataset && dataset.events === options.events && dataset.mcps === options.mcps;
  if (options.reuseDir && fits) {
    const hours = (Date.now() - dataset!.loadedAt.getTime()) / 3_600_000;
    console.log(`  reusing the data set loaded ${hours.toFixed(1)} h ago (${int(dataset!.events)} events)`);
    if (hours > 24) console.log("  (older than a day: the 30-day window no longer covers all of it; drop the directory to reload)");
  } else {
    if (dataset) console.log(`  the kept database holds ${int(dataset.events)} events of ${dataset.mcps} MCPs: loading afresh`);
    console.log(`loading ${int(options.events)} events of ${options.mcps} MCPs over ${options.days} days...`);
    const now = Date.now();
    // Why 15 minutes short of 30 days: the oldest events stay inside the 30-day window while the
    // rest of the load, the backfill and the first queries run.
    const plan = { events: options.events, mcps: options.mcps, startMs: now - options.days * DAY + 15 * 60_000, endMs: now - 60_000, seed: 5 };
    times = await loadDataset(db.pool, plan, console.log);
    dataset = await loadedDataset(db.pool);
  }
  const load: LoadFigures = {
    events: dataset!.events,
    interactions: dataset!.interactions,
    mcps: dataset!.mcps,
    reused: !times,
    loadedAt: dataset!.loadedAt,
    ...(times ? { loadSeconds: times.loadSeconds, backfill: times.backfill, vacuumSeconds: times.vacuumSeconds } : {}),
    steadyRollupSeconds: await steadyStateRun(db.pool, 100),
    sizes: await tableSizes(db.pool),
  };
  console.log(`  one rollup run over the 100 latest MCP-minutes queued again: ${(load.steadyRollupSeconds * 1000).toFixed(0)} ms`);

  const token = (await createKey(db.pool, { role: "operator", principal: `bench-queries-${runTag}`, name: "bench:queries" })).token;
  const picks = await sampleInteractions(db.pool, options.calls + options.warmupCalls, load.interactions);
  const mcps = mcpIds(options.mcps);
  const queries: QueryFigures[] = [];
  const server = track(new Child("server-child.ts", await serverFlags("queries")));
  const client = track(new Child("queries-rpc-child.ts"));
  try {
    await server.ready;
    const started = await server.request("start", { databaseUrl: db.url, sink: "durable", writer: {}, poolSize: 10, logLevel: "warn" });
    await client.ready;
    type Sample = { at: number; machine: number; server: number; postgres: number };
    const postgres = () => (db.postmasterPid ? treeCpuMs(db.postmasterPid) : NaN);
    const sample = (): Sample => ({ at: performance.now(), machine: machineBusyMs(), server: cpuMs(server.pid), postgres: postgres() });
    let window: { start?: Sample; end?: Sample } = {};
    client.on("measure-start", () => (window.start = sample()));
    client.on("measure-end", () => (window.end = sample()));
    console.log(`timing ${QUERIES.length} queries, ${options.calls} calls each after ${options.warmupCalls} warm-up, one call at a time...`);
    for (const query of QUERIES) {
      await quiet(() => cpuMs(server.pid) + postgres() + cpuMs(process.pid));
      window = {};
      const job: QueryJob = { address: `127.0.0.1:${started.port as number}`, token, query: query.name, warmup: options.warmupCalls, calls: options.calls, mcpIds: mcps, picks };
      const result = (await client.request("run", { job })).result as QueryResult;
      const { start, end } = window;
      if (!start || !end) throw new Error("the client child did not report its window");
      const latency = Histogram.from(result.latency);
      const serverMs = end.server - start.server;
      const postgresMs = end.postgres - start.postgres;
      const figures: QueryFigures = {
        name: query.name,
        calls: result.calls,
        p50: latency.percentile(50),
        p99: latency.percentile(99),
        max: latency.max(),
        mean: latency.mean(),
        returned: result.returned,
        serverCpuMsPerCall: serverMs / result.calls,
        postgresCpuMsPerCall: postgresMs / result.calls,
        otherCpu: Math.max(0, (end.machine - start.machine - serverMs - postgresMs - result.clientCpuMs) / (end.at - start.at)),
        setupMs: result.setupMs,
      };
      queries.push(figures);
      console.log(`  ${query.label}: p50 ${ms(figures.p50)} ms, p99 ${ms(figures.p99)} ms, max ${ms(figures.max)} ms`);
    }
  } finally {
    await Promise.all([client.stop(), server.stop()]);
    children.delete(client);
    children.delete(server);
  }

  const explained: Record<string, number[]> = {};
  for (const figures of queries) {
    if (!options.explainAll && figures.p99 <= TARGETS.p99Ms) continue;
    const plans = await explainQuery(db.pool, figures.name, { mcpId: mcps[0]!, pick: picks[0]! });
    explained[figures.name] = plans.map((p) => Math.round(p.executionMs * 1000) / 1000);
    const why = figures.p99 <= TARGETS.p99Ms ? "" : ` (p99 ${ms(figures.p99)} ms > ${TARGETS.p99Ms} ms)`;
    console.log(`\nEXPLAIN (ANALYZE, BUFFERS) of the SQL behind ${queryLabel(figures.name)}${why}:\n${plansText(plans)}`);
  }
  databases.delete(db);
  await db.close();
  return { load, queries, explained };
}

function track<T extends Child>(child: T): T {
  children.add(child);
  return child;
}

/** Node flags for a coordinator child: --cpu-prof into its own directory when asked. */
async function serverFlags(label: string): Promise<string[]> {
  if (!options.cpuProfDir) return [];
  const dir = path.join(options.cpuProfDir, `${String(++serverCounter).padStart(2, "0")}-server-${label}`);
  await mkdir(dir, { recursive: true });
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`];
}

runBenchmark("bench:queries", main, cleanup);
