/**
 * Waiting for a quiet machine before a measurement, so a concurrent test run does not skew it.
 */
import { machineBusyMs } from "./proc.js";

/**
 * Returns a wait that resolves once other programs use less than 15% of one core over a second;
 * all waits of a run share `budgetMs`, after which they return at once. The benchmark's "other
 * CPU" figures show what was left.
 *
 * @param budgetMs - the longest the whole run may spend waiting.
 */
export function quietWaiter(budgetMs: number): (oursCpuMs: () => number) => Promise<void> {
  let left = budgetMs;
  return async (oursCpuMs) => {
    let waited = 0;
    while (left > 0) {
      const [busy0, ours0, t0] = [machineBusyMs(), oursCpuMs(), performance.now()];
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const elapsed = performance.now() - t0;
      const other = (machineBusyMs() - busy0 - (oursCpuMs() - ours0)) / elapsed;
      if (other < 0.15) break;
      left -= elapsed;
      waited += elapsed;
    }
    if (waited > 0) console.log(`  (waited ${(waited / 1000).toFixed(0)} s for other programs to quiet down${left <= 0 ? "; wait budget used up" : ""})`);
  };
}
