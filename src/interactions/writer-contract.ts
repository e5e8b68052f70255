/**
 * What the group-commit writer (writer.ts) and its users agree on: the events handed to it, the
 * outcomes it resolves, its options and counters, and the EventWriter interface the benchmark's
 * echo sink implements too.
 */
import type { InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";

/** One event to store. */
export interface WriteItem {
  mcpId: string;
  event: InteractionEvent;
  /** The stream it came on (null: ReportInteractions). */
  streamId: string | null;
  /** The event already encoded (validation encodes it once); encoded here when absent. */
  payload?: Uint8Array;
}

/** What happened to an event; resolved only after commit. */
export type WriteOutcome = { status: "stored" } | { status: "duplicate" } | { status: "refused"; reason: string };

/** The database could not take the events for longer than the writer's retry budget. */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

/** Writer tuning; defaults chosen with `npm run bench:ingest`. */
export interface WriterOptions {
  /** Most events per transaction. */
  maxBatch?: number;
  /** Longest an event waits for a batch to fill while the writer is idle (ms). */
  maxDelayMs?: number;
  /** Transactions in flight at once. */
  concurrency?: number;
  /** Most events queued (not yet in a transaction); beyond it callers wait for capacity. */
  maxQueued?: number;
  /** How long a failing batch is retried before its events are rejected (ms). */
  retryForMs?: number;
  /** Called once per committed statement, after its outcomes are resolved (metrics); must not throw. */
  onCommit?: (commit: CommitInfo) => void;
  /**
   * Whether a statement should also announce its new events to the live tails (WatchInteractions
   * watchers on any replica); asked once per attempt, so it must answer at once (a cached flag,
   * see watch/watcher-presence.ts). Default: never.
   */
  announce?: () => boolean;
  /**
   * Whether statements queue the minutes they changed for the rollup job. Default true; false
   * only to measure the rollups' ingest cost (bench:queries): the rollups then go stale.
   */
  queueRollups?: boolean;
}

/** One committed statement, as {@link WriterOptions.onCommit} sees it. */
export interface CommitInfo {
  /** Events in the statement (duplicates included). */
  events: number;
  /** How long the statement took, in ms. */
  commitMs: number;
  /** How long its oldest event waited from submit to commit, in ms (the batch's slowest ack). */
  maxWaitMs: number;
  /** The sum of every event's wait from submit to commit, in ms. */
  totalWaitMs: number;
}

/** Counters the writer keeps (for GetStats and logs). */
export interface WriterStats {
  queued: number;
  inFlight: number;
  stored: number;
  duplicates: number;
  refused: number;
  batches: number;
  failedAttempts: number;
  /** Statements stored without announcing to the live tails because the NOTIFY queue was full. */
  unannouncedBatches: number;
  lastBatchSize: number;
  maxBatchSize: number;
  /** False once closed, and while statements fail for want of a database (retried with backoff). */
  running: boolean;
}

/**
 * What ingest needs from a writer. GroupCommitWriter is the real one; the benchmark's ceiling
 * server plugs in one that acks without storing.
 */
export interface EventWriter {
  submit(items: readonly WriteItem[]): Promise<WriteOutcome>[];
  kick(): void;
  hasCapacity(): boolean;
  waitForCapacity(): Promise<void>;
  stats(): WriterStats;
  close(): Promise<void>;
}
