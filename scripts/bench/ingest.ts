/**
 * `npm run bench:ingest`: the ingest benchmark of issue #3, in one run on one machine.
 *
 * Processes: this one orchestrates (database, keys, sampling CPU and memory, printing); the
 * coordinator runs in a child (server-child.ts) and the load generator in another (load-child.ts),
 * so their CPU is separate and each can be measured; PostgreSQL runs as its own processes.
 *
 * Measured:
 * 1. closed loop (every stream keeps its window full) at 1, 100 and 1,000 streams against the
 *    durable coordinator, against ceiling (a) (the coordinator with an echo sink that acks without
 *    storing) and ceiling (b) (one in-process GroupCommitWriter fed directly, no gRPC);
 * 2. open loop at a fixed offered load (5,000 events/s over 100 streams): ack latency p50/p99;
 * 3. writer settings compared at 100 streams;
 * 4. 10,000 idle streams: the server's resident memory per stream.
 * Prints tables, then one JSON line with every figure.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { WriterOptions, WriterStats } from "../../src/interactions/writer-contract.js";
import { printProfiles } from "./cpu-profile.js";
import { openBenchDatabase, type BenchDatabase } from "./database.js";
import { Histogram } from "./histogram.js";
import type { LoadResult } from "./measure.js";
import { parseOptions, windowFor } from "./options.js";
import { Child, cpuMs, machineBusyMs, residentBytes, treeCpuMs } from "./proc.js";
import { quietWaiter } from "./quiet.js";
import { cleanUpOnSignals, runBenchmark, stopBenchProcesses } from "./teardown.js";
import { int, mib, ms, percent } from "./report.js";
import { report, type Run, type Variant } from "./results.js";


const startedAt = performance.now();
const options = parseOptions(process.argv.slice(2));
const runTag = randomBytes(3).toString("hex");
const children = new Set<Child>();
let database: BenchDatabase | undefined;
let keys: { mcpIds: string[]; tokens: string[] };
let runCounter = 0;
let serverCounter = 0;
/** Waits for a quiet machine, within one time budget for the whole run. */
const quiet = quietWaiter(options.quietWaitMs);

cleanUpOnSignals(cleanup);

async function cleanup(): Promise<void> {
  const open = database;
  database = undefined;
  await stopBenchProcesses(children, open);
}

async function main(): Promise<void> {
  database = await openBenchDatabase();
  keys = await database.createKeys(options.mcpKeys, `bench-${runTag}`);
  console.log(await setupText(database));

  const runs: Run[] = [];
  const variants: Variant[] = options.variants.map((v) => ({ name: v.name, rounds: [] }));
  let idle: Record<string, number> | undefined;
  const section = (name: Parameters<typeof options.sections.has>[0]) => options.sections.has(name);

  if (section("durable") || section("fixed")) {
    await withServer("durable", {}, async (server) => {
      if (section("durable")) {
        for (const streams of options.streamCounts) runs.push(await closedRun("durable", server, streams, "default"));
      }
      if (section("fixed")) runs.push(await openRun("durable", server, "default"));
    });
  }
  if (section("echo")) {
    await withServer("echo", {}, async (server) => {
      for (const streams of options.streamCounts) runs.push(await closedRun("echo", server, streams, "-"));
      if (section("fixed")) runs.push(await openRun("echo", server, "-"));
    });
  }
  if (section("direct")) {
    for (const streams of options.streamCounts) runs.push(await directRun(streams, {}, "default"));
  }
  if (section("fixed")) runs.push(await directRun(options.fixedStreams, {}, "default", options.fixedRate));
  if (section("writer")) {
    // Rounds interleave the settings, so drift over the run (a neighbour's load, the disk) hits
    // them all alike; the spread between rounds shows how much of a difference is noise.
    for (let round = 1; round <= options.variantRounds; round++) {
      for (const [i, variant] of options.variants.entries()) {
        await withServer("durable", variant.writer, async (server) => {
          const timing = { warmupMs: options.variantWarmupMs, durationMs: options.variantDurationMs };
          const closed = await closedRun("durable", server, 100, `${variant.name}, round ${round}`, timing);
          const fixed = await openRun("durable", server, `${variant.name}, round ${round}`, timing);
          variants[i]!.rounds.push({ closed, fixed });
        });
      }
    }
  }
  if (section("idle")) idle = await idleRun();

  console.log(report(options, { runs, variants, idle, elapsedSeconds: (performance.now() - startedAt) / 1000 }));
  if (options.cpuProfDir) console.log(`\nCPU profiles of the durable server children:\n${printProfiles(options.cpuProfDir)}`);
}

/** What the run was done on, printed first. */
async function setupText(db: BenchDatabase): Promise<string> {
  const limits = await readFile("/proc/self/limits", "utf8").catch(() => "");
  const openFiles = /^Max open files\s+(\S+)/m.exec(limits)?.[1] ?? "?";
  // Each HTTP/2 connection is one descriptor on each side (both in this machine's limit per process).
  const needed = Math.ceil(options.idleStreams / options.streamsPerChannel) + 200;
  const fdWarning = Number(openFiles) < needed ? ` (WARNING: below the ~${needed} the idle section needs)` : "";
  const cpu = os.cpus()[0]?.model ?? "?";
  return [
    "ingest benchmark (npm run bench:ingest)",
    `machine: ${os.cpus().length} CPU (${cpu}), ${mib(os.totalmem())} RAM, load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}, open files limit ${openFiles}${fdWarning}`,
    `node ${process.version}; PostgreSQL ${db.serverVersion}: ${db.description}`,
    "processes: coordinator in its own child (server-child.ts, startCoordinator); load generator in another",
    "  (load-child.ts: raw grpc-js streams, pre-encoded frames, 100 streams per HTTP/2 connection); PostgreSQL",
    "",
  ].join("\n");
}

/** Starts a server child of `kind` with `writer` options, runs `body`, stops it. */
async function withServer(kind: "durable" | "echo", writer: WriterOptions, body: (server: Child) => Promise<void>, nodeFlags: string[] = []): Promise<void> {
  const flags = [...nodeFlags];
  if (kind === "durable" && options.cpuProfDir) {
    // One directory per server child, named after its writer settings.
    const label = Object.entries(writer).map(([k, v]) => `${k}-${v}`).join("_") || "default";
    const dir = path.join(options.cpuProfDir, `${String(++serverCounter).padStart(2, "0")}-server-${label}`);
    await mkdir(dir, { recursive: true });
    flags.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
  }
  const server = track(new Child("server-child.ts", flags));
  try {
    await server.ready;
    const started = await server.request("start", { databaseUrl: database!.url, sink: kind, writer, poolSize: options.poolSize, logLevel: "warn" });
    serverPort.set(server, started.port as number);
    await body(server);
  } finally {
    await server.stop();
    children.delete(server);
  }
}

function track(child: Child): Child {
  children.add(child);
  return child;
}

/** Runs a load job in a fresh load child while sampling CPU (and writer stats) over its window. */
type Measured = { result: LoadResult; serverCpu: number; postgresCpu: number; otherCpu: number; avgBatch: number; loopDelayP99: number };

/** Share of one core other programs may use during a window before it is measured again. */
const NOISY_CPU = 0.25;
/** Measurements repeated because of other programs, at most, over the whole run. */
let retriesLeft = 4;

/**
 * Runs a measurement; when other programs used more than NOISY_CPU during its window, runs it
 * again (a few times per run at most). A window still noisy after that is reported as a problem.
 */
async function measured(command: "closed" | "open" | "direct", job: Record<string, unknown>, server: Child | undefined): Promise<Measured> {
  for (;;) {
    const m = await measureOnce(command, job, server);
    if (m.otherCpu <= NOISY_CPU) return m;
    if (retriesLeft > 0) {
      retriesLeft--;
      console.log(`  (other programs used ${percent(m.otherCpu)} of a core during that window: measuring again)`);
      continue;
    }
    m.result.problems.push(`other programs used ${percent(m.otherCpu)} of a core during the window: figures unreliable`);
    return m;
  }
}

async function measureOnce(command: "closed" | "open" | "direct", job: Record<string, unknown>, server: Child | undefined): Promise<Measured> {
  await database!.reset();
  await waitForQuiet(server);
  const load = track(new Child("load-child.ts"));
  try {
    await load.ready;
    type ServerStats = { writer: WriterStats; loopDelayMs: { p50: number; p99: number; max: number } };
    type Sample = { at: number; machine: number; server: number; postgres: number; stats: Promise<ServerStats | undefined> };
    const sample = (): Sample => ({
      at: performance.now(),
      machine: machineBusyMs(),
      server: server ? cpuMs(server.pid) : NaN,
      postgres: database!.postmasterPid ? treeCpuMs(database!.postmasterPid) : NaN,
      stats: server ? server.request("stats").then((stats) => stats as unknown as ServerStats) : Promise.resolve(undefined),
    });
    let start: Sample | undefined;
    let end: Sample | undefined;
    load.on("measure-start", () => {
      start = sample();
      void server?.request("resetLoopDelay").catch(() => undefined);
    });
    load.on("measure-end", () => (end = sample()));
    const reply = await load.request(command, { job: { ...job, runTag: `${runTag}${(++runCounter).toString(36)}` } });
    const result = reply.result as LoadResult;
    if (!start || !end) throw new Error("the load child did not report its window");
    const elapsed = end.at - start.at;
    const [s0, s1] = await Promise.all([start.stats, end.stats]);
    const [w0, w1] = [s0?.writer, s1?.writer];
    const avgBatch =
      result.avgBatch ?? (w0 && w1 && w1.batches > w0.batches ? (w1.stored + w1.duplicates - w0.stored - w0.duplicates) / (w1.batches - w0.batches) : NaN);
    return {
      result,
      serverCpu: (end.server - start.server) / elapsed,
      postgresCpu: (end.postgres - start.postgres) / elapsed,
      // Busy time of the machine not spent by the server, PostgreSQL or the load generator:
      // other programs (a concurrent test run, say) that skew the figures.
      otherCpu: Math.max(0, (end.machine - start.machine - (server ? end.server - start.server : 0) - (end.postgres - start.postgres) - result.clientCpuMs) / elapsed),
      avgBatch,
      loopDelayP99: s1?.loopDelayMs.p99 ?? NaN,
    };
  } finally {
    await load.stop();
    children.delete(load);
  }
}

function toRun(system: Run["system"], mode: Run["mode"], writer: string, m: Awaited<ReturnType<typeof measured>>): Run {
  const latency = Histogram.from(m.result.latency);
  const run: Run = {
    system,
    mode,
    streams: m.result.streams,
    window: m.result.window,
    writer,
    eventsPerSecond: m.result.eventsPerSecond,
    p50: latency.percentile(50),
    p99: latency.percentile(99),
    p999: latency.percentile(99.9),
    max: latency.max(),
    serverCpu: m.serverCpu,
    postgresCpu: m.postgresCpu,
    clientCpu: m.result.clientCpuMs / (m.result.seconds * 1000),
    otherCpu: m.otherCpu,
    loopDelayP99: m.loopDelayP99,
    avgBatch: m.avgBatch,
    notStored: m.result.notStored,
    problems: m.result.problems,
  };
  if (m.result.lag) run.lagP99 = Histogram.from(m.result.lag).percentile(99);
  progress(run);
  return run;
}

function progress(run: Run): void {
  const what = run.mode === "open" ? `${run.system} open loop ${options.fixedRate}/s over ${run.streams} streams` : `${run.system} ${run.streams} streams x window ${run.window}`;
  console.log(
    `  ${what} [${run.writer}]: ${int(run.eventsPerSecond)} events/s, p50 ${ms(run.p50)} ms, p99 ${ms(run.p99)} ms` +
      `${run.problems.length ? `  PROBLEMS: ${run.problems.join("; ")}` : ""}`,
  );
}

async function closedRun(system: "durable" | "echo", server: Child, streams: number, writer: string, timing = defaultTiming()): Promise<Run> {
  const job = {
    address: `127.0.0.1:${serverPort.get(server)}`,
    tokens: keys.tokens,
    streamsPerChannel: options.streamsPerChannel,
    streams,
    window: windowFor(options, streams),
    ...timing,
  };
  return toRun(system, "closed", writer, await measured("closed", job, server));
}

async function openRun(system: "durable" | "echo", server: Child, writer: string, timing = defaultTiming()): Promise<Run> {
  const job = {
    address: `127.0.0.1:${serverPort.get(server)}`,
    tokens: keys.tokens,
    streamsPerChannel: options.streamsPerChannel,
    streams: options.fixedStreams,
    rate: options.fixedRate,
    ...timing,
  };
  return toRun(system, "open", writer, await measured("open", job, server));
}

async function directRun(streams: number, writer: WriterOptions, name: string, rate?: number): Promise<Run> {
  const job = {
    ...(rate ? { rate } : {}),
    databaseUrl: database!.url,
    mcpIds: keys.mcpIds,
    writer,
    poolSize: options.poolSize,
    streams,
    window: windowFor(options, streams),
    ...defaultTiming(),
  };
  return toRun("direct", rate ? "open" : "closed", name, await measured("direct", job, undefined));
}

function defaultTiming() {
  return { warmupMs: options.warmupMs, durationMs: options.durationMs };
}

/** Waits for other programs to quiet down (see quiet.ts), counting ours as not "other". */
function waitForQuiet(server: Child | undefined): Promise<void> {
  return quiet(() => (server ? cpuMs(server.pid) : 0) + (database!.postmasterPid ? treeCpuMs(database!.postmasterPid) : 0) + cpuMs(process.pid));
}

/** Ports of running server children (learned from their start reply). */
const serverPort = new WeakMap<Child, number>();

/**
 * 10,000 idle streams: the server's VmRSS before (empty, warmed up, after GC) and after every
 * stream is welcomed and has lived through a heartbeat round (after GC again).
 */
async function idleRun(): Promise<Record<string, number>> {
  await database!.reset();
  const figures: Record<string, number> = {};
  await withServer(
    "durable",
    {},
    async (server) => {
      const load = track(new Child("load-child.ts"));
      try {
        await load.ready;
        // A few streams first, so code paths are compiled and pools warmed before the baseline.
        await sleep(2_000);
        await server.request("gc");
        await sleep(1_000);
        const before = residentBytes(server.pid);
        const heapBefore = (await server.request("stats")).heapUsed as number;
        const opened = new Promise<{ openMs: number; connections: number }>((resolve) =>
          load.on("idle-opened", (message) => resolve(message as unknown as { openMs: number; connections: number })),
        );
        const job = {
          address: `127.0.0.1:${serverPort.get(server)}`,
          tokens: keys.tokens,
          streamsPerChannel: options.streamsPerChannel,
          streams: options.idleStreams,
          runTag,
        };
        const finished = load.request("idle", { job });
        finished.catch(() => undefined);
        const { openMs, connections } = await Promise.race([opened, finished.then(() => Promise.reject(new Error("idle run ended before opening")))]);
        const afterOpen = residentBytes(server.pid);
        // Hold through a heartbeat round (clients beat every 5 s, the server every 10 s of silence).
        await sleep(11_000);
        await server.request("gc");
        await sleep(1_000);
        const after = residentBytes(server.pid);
        const stats = await server.request("stats");
        if (options.heapSnapshot) {
          await server.request("heapSnapshot", { file: path.resolve(options.heapSnapshot) });
          console.log(`  heap snapshot of the server with ${options.idleStreams} idle streams: ${options.heapSnapshot}`);
        }
        const clientRss = (await load.request("memory")).rss as number;
        await load.request("release");
        const outcome = (await finished).result as { problems: string[]; endedEarly: number; serverFrames: number };
        Object.assign(figures, {
          streams: options.idleStreams,
          openStreamsOnServer: stats.openStreams as number,
          connections,
          openSeconds: openMs / 1000,
          rssBeforeBytes: before,
          rssAfterOpenBytes: afterOpen,
          rssAfterBytes: after,
          bytesPerStream: (after - before) / options.idleStreams,
          heapBytesPerStream: ((stats.heapUsed as number) - heapBefore) / options.idleStreams,
          clientRssBytes: clientRss,
          endedEarly: outcome.endedEarly,
          serverFramesSeen: outcome.serverFrames,
        });
        console.log(
          `  idle: ${int(options.idleStreams)} streams on ${connections} connections opened in ${(openMs / 1000).toFixed(1)} s; ` +
            `server RSS ${mib(before)} -> ${mib(after)}: ${int(figures.bytesPerStream!)} B/stream` +
            `${outcome.problems.length ? `  PROBLEMS: ${outcome.problems.join("; ")}` : ""}`,
        );
      } finally {
        await load.stop();
        children.delete(load);
      }
    },
    ["--expose-gc"],
  );
  return figures;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

runBenchmark("bench:ingest", main, cleanup);
