/**
 * `npm run bench:humanloop`: the human-loop benchmark of issue #4, in one run on one machine.
 *
 * Processes: this one orchestrates (database, keys, sampling CPU and memory, printing); each
 * coordinator runs in its own child (server-child.ts, startCoordinator), all on one embedded
 * PostgreSQL; the load (every gRPC call, and the clock both ends of each interval are read on)
 * runs in another child (humanloop-load-child.ts); PostgreSQL runs as its own processes.
 *
 * Measured:
 * 1. latency: one decision at a time, alternating between two paths: await and Respond on
 *    coordinator A (same replica); await on B, Respond on A (across replicas). The figure is the
 *    time from Respond's reply arriving to the await stream delivering the COMPLETED state;
 * 2. memory: N (10,000) AwaitDecision streams open at once on a fresh coordinator M, each on its
 *    own pending decision: M's resident memory and JS heap per stream (after GC, above the empty
 *    warmed-up server);
 * 3. fan-out: Respond to all N decisions and time until the last stream has its outcome.
 * Prints tables, the verdicts against the issue's targets, and one JSON line with every figure.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createKey } from "../../src/auth/keys.js";
import { printProfiles } from "./cpu-profile.js";
import { openBenchDatabase, type BenchDatabase } from "./database.js";
import type { FanoutResult } from "./humanloop-awaiters.js";
import type { LatencyResult } from "./humanloop-latency.js";
import { parseHumanLoopOptions } from "./humanloop-options.js";
import { humanLoopReport, type FanoutFigures, type LatencyFigures, type MemoryFigures } from "./humanloop-report.js";
import { Child, cpuMs, machineBusyMs, residentBytes, treeCpuMs } from "./proc.js";
import { quietWaiter } from "./quiet.js";
import { cleanUpOnSignals, runBenchmark, stopBenchProcesses } from "./teardown.js";
import { int, mib, ms } from "./report.js";

const startedAt = performance.now();
const options = parseHumanLoopOptions(process.argv.slice(2));
const runTag = `bench-${randomBytes(3).toString("hex")}`;
const children = new Set<Child>();
let database: BenchDatabase | undefined;
/** Waits for a quiet machine, within one time budget for the whole run. */
const quiet = quietWaiter(options.quietWaitMs);
/** Decisions of the warm-up round before the memory baseline. */
const WARMUP_AWAITERS = 200;

/** A coordinator child and its port. */
interface Server {
  name: string;
  child: Child;
  address: string;
}

cleanUpOnSignals(cleanup);

async function cleanup(): Promise<void> {
  const open = database;
  database = undefined;
  await stopBenchProcesses(children, open);
}

async function main(): Promise<void> {
  database = await openBenchDatabase();
  const workflowToken = (await createKey(database.pool, { role: "workflow", principal: "bench-workflow", name: "bench:humanloop" })).token;
  const operatorToken = (await createKey(database.pool, { role: "operator", principal: "bench-operator", name: "bench:humanloop" })).token;
  console.log(await setupText(database));

  let latency: LatencyFigures | undefined;
  let memory: MemoryFigures | undefined;
  let fanout: FanoutFigures | undefined;
  // B serves the latency section's cross-replica awaits, then creates the awaiters' decisions.
  const b = await startServer("B");
  if (options.sections.has("latency")) {
    const a = await startServer("A");
    try {
      latency = await latencyRun(a, b, workflowToken, operatorToken);
    } finally {
      await stopServer(a);
    }
  }
  if (options.sections.has("memory")) ({ memory, fanout } = await awaitersRun(b, workflowToken, operatorToken));
  else await stopServer(b);

  console.log(humanLoopReport(options, { latency, memory, fanout, elapsedSeconds: (performance.now() - startedAt) / 1000 }));
  if (options.cpuProfDir) console.log(`\nCPU profiles of the coordinator children:\n${printProfiles(options.cpuProfDir)}`);
}

/** What the run was done on, printed first. */
async function setupText(db: BenchDatabase): Promise<string> {
  const limits = await readFile("/proc/self/limits", "utf8").catch(() => "");
  const openFiles = /^Max open files\s+(\S+)/m.exec(limits)?.[1] ?? "?";
  const needed = Math.ceil(options.awaiters / options.streamsPerConnection) + 200;
  const fdWarning = Number(openFiles) < needed ? ` (WARNING: below the ~${needed} the memory section needs)` : "";
  const cpu = os.cpus()[0]?.model ?? "?";
  return [
    "human-loop benchmark (npm run bench:humanloop)",
    `machine: ${os.cpus().length} CPU (${cpu}), ${mib(os.totalmem())} RAM, load average ${loadAverage()}, open files limit ${openFiles}${fdWarning}`,
    `node ${process.version}; PostgreSQL ${db.serverVersion}: ${db.description}`,
    "processes, all on this machine: coordinators A and B (latency) and M (memory, fan-out) each in its own child",
    "  (server-child.ts, startCoordinator, built-in defaults, pool of 10) on the one PostgreSQL; the load in another child",
    "  (humanloop-load-child.ts: raw grpc-js calls, both ends of every interval timed there); this process samples CPU and memory",
    "",
  ].join("\n");
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

let serverCounter = 0;

/** Starts a coordinator child named `name` on the benchmark's database. */
async function startServer(name: string, nodeFlags: string[] = []): Promise<Server> {
  const flags = [...nodeFlags];
  if (options.cpuProfDir) {
    const dir = path.join(options.cpuProfDir, `${String(++serverCounter).padStart(2, "0")}-server-${name}`);
    await mkdir(dir, { recursive: true });
    flags.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
  }
  const child = track(new Child("server-child.ts", flags));
  await child.ready;
  const started = await child.request("start", { databaseUrl: database!.url, sink: "durable", writer: {}, poolSize: 10, logLevel: "warn" });
  return { name, child, address: `127.0.0.1:${started.port as number}` };
}

async function stopServer(server: Server): Promise<void> {
  await server.child.stop();
  children.delete(server.child);
}

function track(child: Child): Child {
  children.add(child);
  return child;
}

/** CPU counters at one instant, to turn into shares of a core over a window. */
interface CpuSample {
  at: number;
  machine: number;
  servers: number[];
  postgres: number;
}

function cpuSample(servers: Server[]): CpuSample {
  return {
    at: performance.now(),
    machine: machineBusyMs(),
    servers: servers.map((server) => cpuMs(server.child.pid)),
    postgres: database!.postmasterPid ? treeCpuMs(database!.postmasterPid) : NaN,
  };
}

/** Shares of one core over [start, end]; `clientCpuMs` is the load process's own count. */
function cpuShares(start: CpuSample, end: CpuSample, clientCpuMs: number) {
  const elapsed = end.at - start.at;
  const servers = end.servers.map((value, i) => (value - start.servers[i]!) / elapsed);
  const postgres = (end.postgres - start.postgres) / elapsed;
  const ours = end.servers.reduce((sum, value, i) => sum + value - start.servers[i]!, 0) + (end.postgres - start.postgres) + clientCpuMs;
  // Busy time of the machine not spent by the coordinators, PostgreSQL or the load process:
  // other programs (a concurrent test run, say) that skew the figures.
  const other = Math.max(0, (end.machine - start.machine - ours) / elapsed);
  return { servers, postgres, client: clientCpuMs / elapsed, other };
}

/** Section 1: latency, same replica and across replicas. */
async function latencyRun(a: Server, b: Server, workflowToken: string, operatorToken: string): Promise<LatencyFigures> {
  console.log(`latency: ${int(options.samples)} decisions per path after ${options.warmupSamples} warm-up, one at a time...`);
  await waitForQuiet([a, b]);
  const load = track(new Child("humanloop-load-child.ts"));
  try {
    await load.ready;
    let start: CpuSample | undefined;
    let end: CpuSample | undefined;
    load.on("measure-start", () => {
      start = cpuSample([a, b]);
      for (const server of [a, b]) void server.child.request("resetLoopDelay").catch(() => undefined);
    });
    load.on("measure-end", () => (end = cpuSample([a, b])));
    const job = {
      addressA: a.address,
      addressB: b.address,
      workflowToken,
      operatorToken,
      samples: options.samples,
      warmupSamples: options.warmupSamples,
      runTag: `${runTag}/latency`,
    };
    const result = (await load.request("latency", { job })).result as LatencyResult;
    if (!start || !end) throw new Error("the load child did not report its window");
    const shares = cpuShares(start, end, result.clientCpuMs);
    type Stats = { loopDelayMs: { p99: number } };
    const [statsA, statsB] = (await Promise.all([a.child.request("stats"), b.child.request("stats")])) as unknown as Stats[];
    const figures: LatencyFigures = {
      result,
      serverCpuA: shares.servers[0]!,
      serverCpuB: shares.servers[1]!,
      postgresCpu: shares.postgres,
      clientCpu: shares.client,
      otherCpu: shares.other,
      loopDelayP99A: statsA!.loopDelayMs.p99,
      loopDelayP99B: statsB!.loopDelayMs.p99,
      loadAverage: loadAverage(),
    };
    console.log(`  done in ${result.seconds.toFixed(1)} s${result.problems.length ? `  PROBLEMS: ${result.problems.join("; ")}` : ""}`);
    return figures;
  } finally {
    await load.stop();
    children.delete(load);
  }
}

/**
 * Sections 2 and 3: `options.awaiters` await streams on a fresh coordinator M (memory per stream
 * after GC, above the empty warmed-up M), then every decision answered (fan-out time). The
 * decisions are created beforehand over CreateDecision on `creator` (B), which stops before M
 * starts, so M's memory holds nothing but its streams.
 */
async function awaitersRun(creator: Server, workflowToken: string, operatorToken: string): Promise<{ memory: MemoryFigures; fanout: FanoutFigures }> {
  const load = track(new Child("humanloop-load-child.ts"));
  let server: Server | undefined;
  try {
    await load.ready;
    console.log(
      `memory: creating ${int(options.awaiters)} + ${WARMUP_AWAITERS} pending decisions over CreateDecision on B (${options.createConcurrency} in flight)...`,
    );
    const createJob = (count: number, tag: string) => ({
      address: creator.address,
      workflowToken,
      count,
      concurrency: options.createConcurrency,
      runTag: `${runTag}/${tag}`,
    });
    type Created = { created: number; seconds: number; problems: string[] };
    const created = (await load.request("create", { set: "main", job: createJob(options.awaiters, "main") })).result as Created;
    await load.request("create", { set: "warmup", job: createJob(WARMUP_AWAITERS, "warmup") });
    console.log(
      `  created in ${created.seconds.toFixed(1)} s (${int(created.created / created.seconds)}/s)${created.problems.length ? `  PROBLEMS: ${created.problems.join("; ")}` : ""}`,
    );
    await stopServer(creator);

    server = await startServer("M", ["--expose-gc"]);
    const m = server;
    await waitForQuiet([m]);
    const openJob = { address: m.address, workflowToken, streamsPerConnection: options.streamsPerConnection, parallel: 200 };
    const fanoutJob = { address: m.address, operatorToken, concurrency: options.respondConcurrency, connections: 4, timeoutMs: 60_000 };
    // A warm-up round, so code paths are compiled and the pool's connections open before the baseline.
    await load.request("open", { set: "warmup", job: openJob });
    await load.request("fanout", { set: "warmup", job: fanoutJob });
    await load.request("release", { set: "warmup" });
    await sleep(1_000);
    await m.child.request("gc");
    await sleep(1_000);
    const rssBefore = residentBytes(m.child.pid);
    const statsBefore = await m.child.request("stats");

    console.log(`memory: opening ${int(options.awaiters)} AwaitDecision streams on M, ${options.streamsPerConnection} per connection...`);
    type Opened = { streams: number; connections: number; openMs: number; problems: string[] };
    const opened = (await load.request("open", { set: "main", job: openJob })).result as Opened;
    const rssAfterOpen = residentBytes(m.child.pid);
    await sleep(options.holdMs);
    const waiting = (await load.request("waiting", { set: "main" })).waiting as number;
    await m.child.request("gc");
    await sleep(1_000);
    const rssAfter = residentBytes(m.child.pid);
    const statsAfter = await m.child.request("stats");
    const clientRss = (await load.request("memory")).rss as number;
    if (options.heapSnapshot) {
      await m.child.request("heapSnapshot", { file: path.resolve(options.heapSnapshot) });
      console.log(`  heap snapshot of M with ${int(waiting)} awaiting streams: ${options.heapSnapshot}`);
    }
    const memory: MemoryFigures = {
      streams: options.awaiters,
      waiting,
      connections: opened.connections,
      openSeconds: opened.openMs / 1000,
      rssBeforeBytes: rssBefore,
      rssAfterOpenBytes: rssAfterOpen,
      rssAfterBytes: rssAfter,
      bytesPerStream: (rssAfter - rssBefore) / options.awaiters,
      heapBytesPerStream: ((statsAfter.heapUsed as number) - (statsBefore.heapUsed as number)) / options.awaiters,
      externalBytesPerStream: ((statsAfter.external as number) - (statsBefore.external as number)) / options.awaiters,
      clientRssBytes: clientRss,
      createSeconds: created.seconds,
      problems: [...created.problems, ...opened.problems],
    };
    console.log(
      `  ${int(waiting)} streams waiting on ${opened.connections} connections, opened in ${memory.openSeconds.toFixed(1)} s; ` +
        `M's RSS ${mib(rssBefore)} -> ${mib(rssAfter)}: ${int(memory.bytesPerStream)} B/stream` +
        `${opened.problems.length ? `  PROBLEMS: ${opened.problems.join("; ")}` : ""}`,
    );

    console.log(`fan-out: Respond to all ${int(options.awaiters)} decisions on M (${options.respondConcurrency} in flight)...`);
    await waitForQuiet([m]);
    await m.child.request("resetLoopDelay");
    const start = cpuSample([m]);
    const result = (await load.request("fanout", { set: "main", job: fanoutJob })).result as FanoutResult;
    const end = cpuSample([m]);
    const shares = cpuShares(start, end, result.clientCpuMs);
    const loopDelayP99 = ((await m.child.request("stats")) as unknown as { loopDelayMs: { p99: number } }).loopDelayMs.p99;
    const fanout: FanoutFigures = {
      result,
      serverCpu: shares.servers[0]!,
      postgresCpu: shares.postgres,
      clientCpu: shares.client,
      otherCpu: shares.other,
      loopDelayP99,
      loadAverage: loadAverage(),
    };
    console.log(
      `  last outcome ${ms(result.firstSendToLastDeliveryMs)} ms after the first Respond, ${ms(result.lastReplyToLastDeliveryMs)} ms after the last reply` +
        `${result.problems.length ? `  PROBLEMS: ${result.problems.join("; ")}` : ""}`,
    );
    await load.request("release", { set: "main" });
    return { memory, fanout };
  } finally {
    await load.stop();
    children.delete(load);
    if (server) await stopServer(server);
  }
}

/** Waits for other programs to quiet down (see quiet.ts), counting ours as not "other". */
function waitForQuiet(servers: Server[]): Promise<void> {
  return quiet(() => servers.reduce((sum, server) => sum + cpuMs(server.child.pid), 0) + (database!.postmasterPid ? treeCpuMs(database!.postmasterPid) : 0) + cpuMs(process.pid));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

runBenchmark("bench:humanloop", main, cleanup);
