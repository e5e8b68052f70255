/**
 * Command-line flags of `npm run bench:humanloop`.
 */
import { parseBenchFlags, seconds, wholeNumber, type CommonBenchOptions } from "./flags.js";

export const HUMANLOOP_SECTIONS = ["latency", "memory"] as const;
export type HumanLoopSection = (typeof HUMANLOOP_SECTIONS)[number];

export interface HumanLoopBenchOptions extends CommonBenchOptions<HumanLoopSection> {
  /** Measured decisions per path (same replica, across replicas). */
  samples: number;
  /** Unrecorded decisions per path first. */
  warmupSamples: number;
  /** Concurrent awaiting streams of the memory and fan-out section. */
  awaiters: number;
  streamsPerConnection: number;
  /** CreateDecision calls in flight while preparing the awaiters' decisions. */
  createConcurrency: number;
  /** Respond calls in flight during the fan-out. */
  respondConcurrency: number;
  /** How long the awaiters are held open before the memory is read (ms). */
  holdMs: number;
}

export const HUMANLOOP_USAGE = `usage: npm run bench:humanloop -- [flags]
  --quick                     500 latency samples per path, 2,000 awaiters
  --samples <n>               measured decisions per latency path (default 1000)
  --warmup-samples <n>        unrecorded decisions per path first (default 50)
  --awaiters <n>              concurrent AwaitDecision streams (default 10000)
  --streams-per-connection <n> awaiting streams per HTTP/2 connection (default 100)
  --create-concurrency <n>    CreateDecision calls in flight while preparing (default 16)
  --respond-concurrency <n>   Respond calls in flight during the fan-out (default 16)
  --hold <s>                  how long the awaiters stay open before memory is read (default 5)
  --only <a,b>                sections: ${HUMANLOOP_SECTIONS.join(", ")} (memory includes the fan-out; default all)
  --quiet-wait <s>            at most this long in all, wait before measurements while other programs
                              use > 15% of a core (default 30; 0: never)
  --cpu-prof <dir>            profile the coordinator children (node --cpu-prof) into <dir>
  --heap-snapshot <file>      memory section: heap snapshot of the coordinator with every stream open
  DATABASE_URL                use this PostgreSQL instead of a fresh embedded one`;

/** Parses argv (after the script name). @throws on an unknown flag or a bad value. */
export function parseHumanLoopOptions(argv: string[]): HumanLoopBenchOptions {
  const options: HumanLoopBenchOptions = {
    samples: 1_000,
    warmupSamples: 50,
    awaiters: 10_000,
    streamsPerConnection: 100,
    createConcurrency: 16,
    respondConcurrency: 16,
    holdMs: 5_000,
    sections: new Set(HUMANLOOP_SECTIONS),
    quietWaitMs: 30_000,
    cpuProfDir: undefined,
    heapSnapshot: undefined,
  };
  parseBenchFlags(argv, options, {
    usage: HUMANLOOP_USAGE,
    sections: HUMANLOOP_SECTIONS,
    own(name, value) {
      switch (name) {
        case "--quick":
          options.samples = 500;
          options.awaiters = 2_000;
          return true;
        case "--samples":
          options.samples = wholeNumber(value(), name);
          return true;
        case "--warmup-samples":
          options.warmupSamples = wholeNumber(value(), name, 0);
          return true;
        case "--awaiters":
          options.awaiters = wholeNumber(value(), name);
          return true;
        case "--streams-per-connection":
          options.streamsPerConnection = wholeNumber(value(), name);
          return true;
        case "--create-concurrency":
          options.createConcurrency = wholeNumber(value(), name);
          return true;
        case "--respond-concurrency":
          options.respondConcurrency = wholeNumber(value(), name);
          return true;
        case "--hold":
          options.holdMs = seconds(value(), name, true);
          return true;
        default:
          return false;
      }
    },
  });
  return options;
}
