/**
 * Resource sampling for `track()`: the seeds' performance monitor (processing time, CPU, memory).
 */

/** What one tracked call consumed. */
export interface UsageSample {
  /** Wall-clock time since the sampler started, in ms. */
  elapsedMs: number;
  /**
   * CPU time the whole process used over that time, in percent of one core (may exceed 100 on
   * several cores). Node has no per-request CPU accounting, so concurrent requests share it.
   */
  cpuPercent: number;
  /** Resident set size of the process at the end, in MiB. */
  memoryMb: number;
}

/** Starts measuring; call the returned function once the work is done. */
export function startUsage(): () => UsageSample {
  const startWall = process.hrtime.bigint();
  const startCpu = process.cpuUsage();
  return () => {
    const wallUs = Number(process.hrtime.bigint() - startWall) / 1000;
    const cpu = process.cpuUsage(startCpu);
    const cpuUs = cpu.user + cpu.system;
    return {
      elapsedMs: wallUs / 1000,
      // Why the guard: a sub-microsecond call would divide by ~0 and report nonsense.
      cpuPercent: wallUs >= 1 ? round2((cpuUs / wallUs) * 100) : 0,
      memoryMb: round2(process.memoryUsage.rss() / (1024 * 1024)),
    };
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
