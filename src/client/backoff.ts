/**
 * Reconnect delays: exponential backoff with full jitter (a random delay between 0 and the
 * exponential cap), so thousands of MCPs cut off by one coordinator restart do not all come back
 * in the same instant.
 */

/** Delay before retry number `attempt` (0-based): uniform in [0, min(maxMs, initialMs * 2^attempt)]. */
export function fullJitter(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

/**
 * Resolves after `ms`, or early when `signal` aborts. The timer is unref'd: waiting to reconnect
 * must not keep the host process alive (pending events are in the spool for the next start).
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener("abort", done, { once: true });
  });
}
