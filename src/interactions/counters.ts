/**
 * Live ingest counters of this coordinator process (GetStats, logs, the benchmark).
 */

/** Monotonic counters, plus the open-stream gauge. */
export interface IngestCounters {
  received: number;
  stored: number;
  duplicates: number;
  rejected: number;
  openStreams: number;
}

/** A zeroed set of counters. */
export function newIngestCounters(): IngestCounters {
  return { received: 0, stored: 0, duplicates: 0, rejected: 0, openStreams: 0 };
}
