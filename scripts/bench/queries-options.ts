/**
 * Command-line flags of `npm run bench:queries`.
 */
import os from "node:os";
import path from "node:path";
import { parseBenchFlags, seconds, wholeNumber, type CommonBenchOptions } from "./flags.js";

export const QUERY_SECTIONS = ["queries", "ingest"] as const;
export type QuerySection = (typeof QUERY_SECTIONS)[number];

export interface QueryBenchOptions extends CommonBenchOptions<QuerySection> {
  /** Events loaded (about 3 per interaction). */
  events: number;
  mcps: number;
  /** Days the events are spread over, ending now. */
  days: number;
  /** Timed calls per query, after `warmupCalls` untimed ones. */
  calls: number;
  warmupCalls: number;
  /** Keep the loaded database here and reuse it on the next run (undefined: fresh, removed). */
  reuseDir: string | undefined;
  /** EXPLAIN ANALYZE the SQL behind every query, not only behind those that miss the target. */
  explainAll: boolean;
  ingestStreams: number;
  /** Events in flight per stream (closed loop). */
  ingestWindow: number;
  ingestWarmupMs: number;
  ingestDurationMs: number;
  /** Rounds of (off, on), the order alternating (ABBA) to cancel drift. */
  ingestRounds: number;
  mcpKeys: number;
}

export const QUERIES_USAGE = `usage: npm run bench:queries -- [flags]
  --quick                 200,000 events, 60 calls per query after 10 warm-up, two 5-s ingest rounds
  --events <n>            events loaded (default 5000000; about 3 per interaction)
  --mcps <n>              MCPs the events belong to (default 50)
  --calls <n>             timed calls per query, one at a time (default 300)
  --warmup-calls <n>      untimed calls per query before them (default 20)
  --reuse [dir]           keep the loaded database in <dir> (default ${defaultReuseDir()}) and reuse it
                          when it holds a complete load of the same size; without it: a fresh one, removed
  --explain               EXPLAIN ANALYZE the SQL behind every query (default: only those missing the target)
  --ingest-duration <s>   measured window per ingest round (default 20, warm-up 3)
  --ingest-rounds <n>     rounds of (rollups+privacy off, on), order alternating (default 6)
  --ingest-streams <n>    streams of the ingest load (default 100; 40 events in flight each)
  --only <a,b>            sections: queries (load + latency), ingest (default both)
  --quiet-wait <s>        at most this long in all, wait before measurements while other programs
                          use > 15% of a core (default 60; 0: never)
  --cpu-prof <dir>        profile the coordinator children (node --cpu-prof) into <dir>
  DATABASE_URL            load and query this PostgreSQL instead of a fresh embedded one (queries only;
                          its interaction tables are emptied first)`;

function defaultReuseDir(): string {
  return path.join(os.tmpdir(), "mcpc-bench-queries-pg");
}

/** Parses argv (after the script name). @throws on an unknown flag or a bad value. */
export function parseQueryOptions(argv: string[]): QueryBenchOptions {
  const options: QueryBenchOptions = {
    events: 5_000_000,
    mcps: 50,
    days: 30,
    calls: 300,
    warmupCalls: 20,
    reuseDir: undefined,
    explainAll: false,
    ingestStreams: 100,
    ingestWindow: 40,
    ingestWarmupMs: 3_000,
    ingestDurationMs: 20_000,
    // Why 6: one round on this VM varies by up to 30%; the ratio of fewer rounds says little.
    ingestRounds: 6,
    mcpKeys: 100,
    sections: new Set(QUERY_SECTIONS),
    quietWaitMs: 60_000,
    cpuProfDir: undefined,
    heapSnapshot: undefined,
  };
  // --reuse takes an optional directory: the next argument is one unless it is a flag.
  const args = argv.flatMap((arg, i) => (arg === "--reuse" && (argv[i + 1] === undefined || argv[i + 1]!.startsWith("--")) ? [`--reuse=${defaultReuseDir()}`] : [arg]));
  parseBenchFlags(args, options, {
    usage: QUERIES_USAGE,
    sections: QUERY_SECTIONS,
    own(name, value) {
      switch (name) {
        case "--quick":
          options.events = 200_000;
          options.calls = 60;
          options.warmupCalls = 10;
          options.ingestWarmupMs = 2_000;
          options.ingestDurationMs = 5_000;
          options.ingestRounds = 2;
          return true;
        case "--events":
          options.events = wholeNumber(value(), name, 1_000);
          return true;
        case "--mcps":
          options.mcps = wholeNumber(value(), name);
          return true;
        case "--calls":
          options.calls = wholeNumber(value(), name);
          return true;
        case "--warmup-calls":
          options.warmupCalls = wholeNumber(value(), name, 0);
          return true;
        case "--reuse":
          options.reuseDir = value() ?? defaultReuseDir();
          return true;
        case "--explain":
          options.explainAll = true;
          return true;
        case "--ingest-duration":
          options.ingestDurationMs = seconds(value(), name);
          return true;
        case "--ingest-rounds":
          options.ingestRounds = wholeNumber(value(), name);
          return true;
        case "--ingest-streams":
          options.ingestStreams = wholeNumber(value(), name);
          return true;
        default:
          return false;
      }
    },
  });
  return options;
}
