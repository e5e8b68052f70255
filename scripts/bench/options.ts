/**
 * Command-line flags of `npm run bench:ingest`.
 */
import { loadConfig } from "../../src/config/load.js";
import type { WriterOptions } from "../../src/interactions/writer-contract.js";
import { parseBenchFlags, seconds, wholeNumber, type CommonBenchOptions } from "./flags.js";

export const SECTIONS = ["durable", "echo", "direct", "fixed", "writer", "idle"] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions extends CommonBenchOptions<Section> {
  warmupMs: number;
  durationMs: number;
  /** Shorter windows for the writer-settings comparison. */
  variantWarmupMs: number;
  variantDurationMs: number;
  /** How many times each writer setting is measured (interleaved). */
  variantRounds: number;
  streamCounts: number[];
  /** Events in flight over all streams in the closed loop (split evenly; see windowFor). */
  inflight: number;
  /** Window asked for per stream, at most (the server's default window). */
  maxWindow: number;
  fixedRate: number;
  fixedStreams: number;
  idleStreams: number;
  streamsPerChannel: number;
  mcpKeys: number;
  poolSize: number;
  /** Writer settings compared at 100 streams (the first is the default). */
  variants: { name: string; writer: WriterOptions }[];
}

export const USAGE = `usage: npm run bench:ingest -- [flags]
  --quick                 short windows (1 s warm-up, 3 s measured; 2,000 idle streams)
  --warmup <s>            warm-up per configuration (default 2)
  --duration <s>          measured window per configuration (default 10)
  --variant-duration <s>  measured window per writer setting and round (default 5, warm-up 1.5)
  --variant-rounds <n>    rounds over the writer settings (default 2)
  --streams <a,b,c>       stream counts (default 1,100,1000)
  --inflight <n>          events in flight over all streams, closed loop (default 4000)
  --rate <n>              fixed offered load, events/s (default 5000)
  --idle-streams <n>      idle streams for the memory figure (default 10000)
  --only <a,b>            sections: ${SECTIONS.join(", ")} (default all)
  --quiet-wait <s>        at most this long in all, wait before measurements while other programs
                          use > 15% of a core (default 60; 0: never)
  --cpu-prof <dir>        profile the durable server children (node --cpu-prof) into <dir>
  --heap-snapshot <file>  idle section: heap snapshot of the server with every stream open
  DATABASE_URL            use this PostgreSQL instead of a fresh embedded one`;

/** Parses argv (after the script name). @throws on an unknown flag or a bad value. */
export function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = {
    warmupMs: 2_000,
    durationMs: 10_000,
    variantWarmupMs: 1_500,
    variantDurationMs: 5_000,
    variantRounds: 2,
    streamCounts: [1, 100, 1000],
    inflight: 4_000,
    maxWindow: 1_000,
    fixedRate: 5_000,
    fixedStreams: 100,
    idleStreams: 10_000,
    streamsPerChannel: 100,
    mcpKeys: 100,
    poolSize: 10,
    sections: new Set(SECTIONS),
    cpuProfDir: undefined,
    quietWaitMs: 60_000,
    heapSnapshot: undefined,
    variants: [
      { name: defaultWriterName(), writer: {} },
      { name: "maxDelayMs 0", writer: { maxDelayMs: 0 } },
      { name: "maxDelayMs 2", writer: { maxDelayMs: 2 } },
      { name: "maxBatch 500", writer: { maxBatch: 500 } },
      { name: "maxBatch 2000", writer: { maxBatch: 2000 } },
      { name: "concurrency 4", writer: { concurrency: 4 } },
    ],
  };
  parseBenchFlags(argv, options, {
    usage: USAGE,
    sections: SECTIONS,
    own(name, value) {
      switch (name) {
        case "--quick":
          options.warmupMs = 1_000;
          options.durationMs = 3_000;
          options.variantWarmupMs = 1_000;
          options.variantDurationMs = 2_000;
          options.variantRounds = 1;
          options.idleStreams = 2_000;
          return true;
        case "--warmup":
          options.warmupMs = seconds(value(), name);
          return true;
        case "--duration":
          options.durationMs = seconds(value(), name);
          return true;
        case "--variant-duration":
          options.variantDurationMs = seconds(value(), name);
          return true;
        case "--variant-rounds":
          options.variantRounds = wholeNumber(value(), name);
          return true;
        case "--streams":
          options.streamCounts = (value() ?? "").split(",").map((s) => wholeNumber(s, name));
          return true;
        case "--inflight":
          options.inflight = wholeNumber(value(), name);
          return true;
        case "--rate":
          options.fixedRate = wholeNumber(value(), name);
          return true;
        case "--idle-streams":
          options.idleStreams = wholeNumber(value(), name);
          return true;
        default:
          return false;
      }
    },
  });
  return options;
}

/** The window each of `streams` streams keeps in the closed loop. */
export function windowFor(options: BenchOptions, streams: number): number {
  return Math.max(1, Math.min(options.maxWindow, Math.ceil(options.inflight / streams)));
}

/** "defaults (maxBatch 1000, maxDelayMs 1)": the coordinator's built-in writer settings. */
function defaultWriterName(): string {
  const config = loadConfig({}, {});
  return `defaults (maxBatch ${config.writerMaxBatch}, maxDelayMs ${config.writerMaxDelayMs})`;
}
