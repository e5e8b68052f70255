/**
 * Stopping what a benchmark started: its child processes and the embedded PostgreSQL, at the end
 * and on Ctrl-C.
 */
import type { BenchDatabase } from "./database.js";
import type { Child } from "./proc.js";

/** Stops every child (they also stop on IPC disconnect), then the database. Never throws. */
export async function stopBenchProcesses(children: Iterable<Child>, database: BenchDatabase | undefined): Promise<void> {
  await Promise.all([...children].map((child) => child.stop(5_000).catch(() => undefined)));
  await database?.close().catch((error: unknown) => console.error("could not stop PostgreSQL:", error));
}

/** Runs `cleanup` on SIGINT or SIGTERM, then exits with status 130. */
export function cleanUpOnSignals(cleanup: () => Promise<void>): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping children and PostgreSQL...`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

/** Runs the benchmark's `main`, cleans up after it, and exits 0, or 1 after printing its error. */
export function runBenchmark(name: string, main: () => Promise<void>, cleanup: () => Promise<void>): void {
  main().then(
    async () => {
      await cleanup();
      process.exit(0);
    },
    async (error: unknown) => {
      console.error(`${name} failed:`, error);
      await cleanup();
      process.exit(1);
    },
  );
}
