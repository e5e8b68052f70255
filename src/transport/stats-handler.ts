/**
 * GetStats over gRPC: this replica's live ingest counters and the database totals.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Pool } from "pg";
import { GetStatsResponseSchema } from "../../gen/coordinator/v1/ingest_stats_pb.js";
import type { Ingest } from "../interactions/ingest.js";
import { databaseTotals } from "../interactions/read/database-totals.js";
import type { EventTail } from "../interactions/watch/event-tail.js";
import type { Registry } from "../registry/registry.js";
import { VERSION } from "../version.js";
import { withinTime } from "../within-time.js";

/** What GetStats reads. */
export interface StatsSources {
  pool: Pool;
  ingest: Ingest;
  registry: Registry;
  tail: EventTail;
}

/** How long GetStats waits for the database totals before answering without them. */
const TOTALS_WAIT_MS = 3_000;

/** The GetStats handler, for interactionService's `extra`. */
export function statsHandlers({ pool, ingest, registry, tail }: StatsSources) {
  return {
    async getStats() {
      // Why not fail: while the database is unreachable the replica's own counters (the writer
      // not running, the queue growing) are exactly what an SRE needs to see.
      const totals = await withinTime(databaseTotals(pool, registry.staleAfterMs), TOTALS_WAIT_MS);
      const writer = ingest.writer.stats();
      const counters = ingest.counters;
      return create(GetStatsResponseSchema, {
        coordinatorInstance: registry.instanceId,
        serverVersion: VERSION,
        startedAt: timestampFromDate(registry.startedAt),
        ingest: {
          eventsReceived: BigInt(counters.received),
          eventsStored: BigInt(counters.stored),
          eventsDuplicate: BigInt(counters.duplicates),
          eventsRejected: BigInt(counters.rejected),
          openStreams: ingest.openStreams,
          writerQueueDepth: writer.queued + writer.inFlight,
          writerRunning: writer.running,
          batchesCommitted: BigInt(writer.batches),
          batchesFailed: BigInt(writer.failedAttempts),
          lastBatchSize: writer.lastBatchSize,
          avgBatchSize: writer.batches ? (writer.stored + writer.duplicates) / writer.batches : 0,
          maxBatchSize: writer.maxBatchSize,
          openWatchers: tail.openWatchers,
        },
        database: totals && {
          eventsStored: BigInt(totals.eventsStored),
          interactionsTotal: BigInt(totals.interactionsTotal),
          interactionsActive: BigInt(totals.interactionsActive),
          interactionsCompleted: BigInt(totals.interactionsCompleted),
          interactionsFailed: BigInt(totals.interactionsFailed),
          avgProcessingTime: totals.avgProcessingMs === null ? undefined : durationFromMs(Math.round(totals.avgProcessingMs)),
          mcpsRegistered: BigInt(totals.mcpsRegistered),
          mcpsConnected: BigInt(totals.mcpsConnected),
        },
      });
    },
  };
}
