/**
 * The command-line flags every benchmark shares, and the walk over argv both parsers use.
 */

/** What every benchmark takes besides its own flags. */
export interface CommonBenchOptions<Section extends string> {
  sections: Set<Section>;
  /** Longest the whole run waits for other programs to go quiet before measuring (ms). */
  quietWaitMs: number;
  /** Node's --cpu-prof on the coordinator children, profiles written here. */
  cpuProfDir: string | undefined;
  /** Heap snapshot of the server with every stream open, written here. */
  heapSnapshot: string | undefined;
}

/** A whole number of at least `min`. @throws naming the flag. */
export function wholeNumber(raw: string | undefined, flag: string, min = 1): number {
  const value = Number(raw);
  if (!raw || !Number.isInteger(value) || value < min) throw new Error(`${flag} needs a whole number of at least ${min}`);
  return value;
}

/** Seconds, returned in ms; 0 only when `allowZero`. @throws naming the flag. */
export function seconds(raw: string | undefined, flag: string, allowZero = false): number {
  const value = Number(raw);
  if (!raw || !Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    throw new Error(`${flag} needs a number of seconds (${allowZero ? "0 or more" : "more than 0"})`);
  }
  return Math.round(value * 1000);
}

/**
 * Walks `argv` (`--flag value` or `--flag=value`): each flag goes to `own` first, then to the
 * common ones (--only, --quiet-wait, --cpu-prof, --heap-snapshot, --help).
 *
 * @param own - handles a flag of the benchmark's own and returns true, or returns false.
 * @throws on an unknown flag or a bad value.
 */
export function parseBenchFlags<Section extends string>(
  argv: string[],
  options: CommonBenchOptions<Section>,
  spec: { usage: string; sections: readonly Section[]; own: (name: string, value: () => string | undefined) => boolean },
): void {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const at = flag.indexOf("=");
    const [name, inline] = at > 0 ? [flag.slice(0, at), flag.slice(at + 1)] : [flag, undefined];
    const value = () => inline ?? argv[++i];
    if (spec.own(name, value)) continue;
    switch (name) {
      case "--only": {
        const wanted = (value() ?? "").split(",");
        for (const section of wanted) {
          if (!(spec.sections as readonly string[]).includes(section)) throw new Error(`--only: unknown section "${section}" (${spec.sections.join(", ")})`);
        }
        options.sections = new Set(wanted as Section[]);
        break;
      }
      case "--quiet-wait":
        options.quietWaitMs = seconds(value(), name, true);
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
        console.log(spec.usage);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${flag}\n${spec.usage}`);
    }
  }
}
