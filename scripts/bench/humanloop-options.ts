/**
 * Command-line flags of `npm run bench:humanloop`.
 */

export const HUMANLOOP_SECTIONS = ["latency", "memory"] as const;
export type HumanLoopSection = (typeof HUMANLOOP_SECTIONS)[number];

export interface HumanLoopBenchOptions {
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
  sections: Set<HumanLoopSection>;
  /** Longest the whole run waits for other programs to go quiet before measuring (ms). */
  quietWaitMs: number;
  /** Node's --cpu-prof on the coordinator children, profiles written here. */
  cpuProfDir: string | undefined;
  /** Memory section: heap snapshot of the awaiters' coordinator with every stream open. */
  heapSnapshot: string | undefined;
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
  const count = (raw: string | undefined, flag: string, min = 1) => {
    const value = Number(raw);
    if (!raw || !Number.isInteger(value) || value < min) throw new Error(`${flag} needs a whole number of at least ${min}`);
    return value;
  };
  const seconds = (raw: string | undefined, flag: string) => {
    const value = Number(raw);
    if (!raw || !Number.isFinite(value) || value < 0) throw new Error(`${flag} needs a number of seconds (0 or more)`);
    return Math.round(value * 1000);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes("=") ? [flag.slice(0, flag.indexOf("=")), flag.slice(flag.indexOf("=") + 1)] : [flag, undefined];
    const value = () => inline ?? argv[++i];
    switch (name) {
      case "--quick":
        options.samples = 500;
        options.awaiters = 2_000;
        break;
      case "--samples":
        options.samples = count(value(), name);
        break;
      case "--warmup-samples":
        options.warmupSamples = count(value(), name, 0);
        break;
      case "--awaiters":
        options.awaiters = count(value(), name);
        break;
      case "--streams-per-connection":
        options.streamsPerConnection = count(value(), name);
        break;
      case "--create-concurrency":
        options.createConcurrency = count(value(), name);
        break;
      case "--respond-concurrency":
        options.respondConcurrency = count(value(), name);
        break;
      case "--hold":
        options.holdMs = seconds(value(), name);
        break;
      case "--only": {
        const wanted = (value() ?? "").split(",");
        for (const section of wanted) {
          if (!(HUMANLOOP_SECTIONS as readonly string[]).includes(section)) {
            throw new Error(`--only: unknown section "${section}" (${HUMANLOOP_SECTIONS.join(", ")})`);
          }
        }
        options.sections = new Set(wanted as HumanLoopSection[]);
        break;
      }
      case "--quiet-wait":
        options.quietWaitMs = seconds(value(), name);
        break;
      case "--cpu-prof":
        options.cpuProfDir = value();
        if (!options.cpuProfDir) throw new Error("--cpu-prof needs a directory");
        break;
      case "--heap-snapshot":
        options.heapSnapshot = value();
        if (!options.heapSnapshot) throw new Error("--heap-snapshot needs a file name");
        break;
      case "--help":
      case "-h":
        console.log(HUMANLOOP_USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${flag}\n${HUMANLOOP_USAGE}`);
    }
  }
  return options;
}
