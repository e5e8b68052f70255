/**
 * The ingest half of `npm run bench:queries`: ingest throughput with the read side's write costs
 * (the rollup queue step, trigger and index; privacy policies) on, against the same ingest with
 * them off, in one run on one machine.
 *
 * Two fresh databases, one per setting, so neither carries the other's schema change:
 * - off: the writer's statement without its rollup queue step (WriterOptions.queueRollups false),
 *   the trigger interactions_rollup_moved and the index interactions_mcp_ended_idx dropped; the
 *   coordinator started with MCPC_PRIVACY=none;
 * - on: the schema as migrated and every setting at its built-in default.
 * Each round starts a coordinator child on the setting's emptied database and drives it with the
 * ingest benchmark's load generator (load-child.ts, closed loop). Rounds alternate the order
 * (off, on, then on, off: ABBA), so a drift of the machine's speed hits both alike.
 */
import { performance } from "node:perf_hooks";
import { openBenchDatabase, type BenchDatabase } from "./database.js";
import { Histogram } from "./histogram.js";
import type { WriterOptions } from "../../src/interactions/writer-contract.js";
import type { LoadResult } from "./measure.js";
import { Child, cpuMs, machineBusyMs, treeCpuMs } from "./proc.js";
import type { QueryBenchOptions } from "./queries-options.js";
import { int, ms, percent } from "./report.js";
import type { IngestRound } from "./queries-report.js";

/** What the section needs from the orchestrator. */
export interface IngestContext {
  options: QueryBenchOptions;
  runTag: string;
  /** Registers a child (and its database) for cleanup on signals; returns it. */
  track<T extends Child>(child: T): T;
  untrack(child: Child): void;
  trackDatabase(database: BenchDatabase): void;
  /** Waits for other programs to quiet down, counting `ours` as not "other". */
  quiet(ours: () => number): Promise<void>;
  /** Node flags for coordinator children (--cpu-prof). */
  serverFlags(label: string): Promise<string[]>;
}

/** The coordinator's environment and writer options per setting (see the module comment). */
const SETTING_ENV: Record<IngestRound["setting"], Record<string, string>> = { off: { MCPC_PRIVACY: "none" }, on: {} };
const SETTING_WRITER: Record<IngestRound["setting"], WriterOptions> = { off: { queueRollups: false }, on: {} };
/** Share of one core other programs may use during a round before it is measured again. */
const NOISY_CPU = 0.25;

/** Runs the rounds; returns one figure set per round. */
export async function ingestComparison(ctx: IngestContext): Promise<IngestRound[]> {
  const { options } = ctx;
  if (process.env.DATABASE_URL) throw new Error("the ingest section needs two embedded databases of its own: unset DATABASE_URL, or run with --only queries");
  console.log("ingest: two fresh databases (rollups + privacy off, on)...");
  const databases = {} as Record<IngestRound["setting"], { db: BenchDatabase; tokens: string[] }>;
  for (const setting of ["off", "on"] as const) {
    const db = await openBenchDatabase();
    ctx.trackDatabase(db);
    const { tokens } = await db.createKeys(options.mcpKeys, `bench-${ctx.runTag}-${setting}`);
    databases[setting] = { db, tokens };
  }
  // Why drop rather than disable: "off" is the schema without the read side's write costs, as
  // it was before migration 0005 added them.
  await databases.off.db.pool.query(`DROP TRIGGER interactions_rollup_moved ON interactions;
    DROP INDEX interactions_mcp_ended_idx`);

  const rounds: IngestRound[] = [];
  // As in ingest.ts: a window in which other programs used more than a quarter of a core is
  // measured again, a few times per run at most.
  let retriesLeft = 3;
  for (let round = 1; round <= options.ingestRounds; round++) {
    const order: IngestRound["setting"][] = round % 2 === 1 ? ["off", "on"] : ["on", "off"];
    for (const setting of order) {
      const { db, tokens } = databases[setting];
      const other = databases[setting === "off" ? "on" : "off"].db;
      // Why the other cluster too: its previous round's dirty pages and WAL would otherwise be
      // written out during this round, on the same disk (reset() checkpoints only its own).
      await other.pool.query("CHECKPOINT").catch(() => undefined);
      let figures = await measureRound(ctx, db, tokens, setting, round);
      while (figures.otherCpu > NOISY_CPU && retriesLeft > 0) {
        retriesLeft--;
        console.log(`  (round ${round}, ${setting}: other programs used ${percent(figures.otherCpu)} of a core during the window: measuring again)`);
        figures = await measureRound(ctx, db, tokens, setting, round);
      }
      if (figures.otherCpu > NOISY_CPU) figures.problems.push(`other programs used ${percent(figures.otherCpu)} of a core during the window: figures unreliable`);
      rounds.push(figures);
      console.log(
        `  round ${round}, ${setting}: ${int(figures.eventsPerSecond)} events/s, p99 ack ${ms(figures.p99)} ms` +
          `${figures.problems.length ? `  PROBLEMS: ${figures.problems.join("; ")}` : ""}`,
      );
    }
  }
  return rounds;
}

/** One round: a fresh coordinator child on the emptied database, then the closed-loop load. */
async function measureRound(ctx: IngestContext, db: BenchDatabase, tokens: string[], setting: IngestRound["setting"], round: number): Promise<IngestRound> {
  const { options } = ctx;
  await db.reset();
  // reset() leaves the rollup tables alone; a round must not inherit the previous one's queue.
  await db.pool.query("TRUNCATE interaction_rollup_queue, interaction_rollups, interaction_error_rollups");
  const server = ctx.track(new Child("server-child.ts", await ctx.serverFlags(`ingest-${setting}-${round}`)));
  const load = ctx.track(new Child("load-child.ts"));
  try {
    await server.ready;
    const started = await server.request("start", { databaseUrl: db.url, sink: "durable", writer: SETTING_WRITER[setting], poolSize: 10, logLevel: "warn", env: SETTING_ENV[setting] });
    await load.ready;
    const postgres = () => (db.postmasterPid ? treeCpuMs(db.postmasterPid) : NaN);
    await ctx.quiet(() => cpuMs(server.pid) + postgres() + cpuMs(process.pid));
    type Sample = { at: number; machine: number; server: number; postgres: number };
    const sample = (): Sample => ({ at: performance.now(), machine: machineBusyMs(), server: cpuMs(server.pid), postgres: postgres() });
    let start: Sample | undefined;
    let end: Sample | undefined;
    // Checkpoints started (timed or requested; PostgreSQL 17+): one spreads its writes over minutes,
    // so counting those completed would miss one begun in the window.
    const checkpoints = () =>
      db.pool.query<{ n: string }>("SELECT num_timed + num_requested AS n FROM pg_stat_checkpointer").then((r) => Number(r.rows[0]!.n), () => NaN);
    let checkpointsAtStart: Promise<number> = Promise.resolve(NaN);
    let checkpointsAtEnd: Promise<number> = Promise.resolve(NaN);
    load.on("measure-start", () => {
      start = sample();
      checkpointsAtStart = checkpoints();
    });
    load.on("measure-end", () => {
      end = sample();
      checkpointsAtEnd = checkpoints();
    });
    const job = {
      address: `127.0.0.1:${started.port as number}`,
      tokens,
      streamsPerChannel: 100,
      streams: options.ingestStreams,
      window: options.ingestWindow,
      warmupMs: options.ingestWarmupMs,
      durationMs: options.ingestDurationMs,
      runTag: `${ctx.runTag}-${setting}${round}`,
    };
    const result = (await load.request("closed", { job })).result as LoadResult;
    if (!start || !end) throw new Error("the load child did not report its window");
    const elapsed = end.at - start.at;
    const serverMs = end.server - start.server;
    const postgresMs = end.postgres - start.postgres;
    return {
      round,
      setting,
      eventsPerSecond: result.eventsPerSecond,
      p99: Histogram.from(result.latency).percentile(99),
      serverCpu: serverMs / elapsed,
      postgresCpu: postgresMs / elapsed,
      clientCpu: result.clientCpuMs / elapsed,
      // Busy time of the machine not spent by the coordinator, PostgreSQL or the load: noise.
      otherCpu: Math.max(0, (end.machine - start.machine - serverMs - postgresMs - result.clientCpuMs) / elapsed),
      checkpoints: (await checkpointsAtEnd) - (await checkpointsAtStart),
      notStored: result.notStored,
      problems: result.problems,
    };
  } finally {
    await Promise.all([load.stop(), server.stop()]);
    ctx.untrack(load);
    ctx.untrack(server);
  }
}
