/**
 * Wraps an async cleanup so that every call after the first gets the first call's promise:
 * close() and stop() paths may be reached from several places (signals, errors, normal exit).
 */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
