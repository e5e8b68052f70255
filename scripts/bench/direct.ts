/**
 * Ceiling (b): the same rows written straight into Postgres by one in-process GroupCommitWriter,
 * no gRPC. "Streams" here are virtual: each keeps `window` events submitted and not yet resolved,
 * exactly as an ingest session would with a client keeping its window full, so the writer sees
 * the same batch shapes as in the gRPC runs.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createLogger } from "../../src/logger.js";
import { createPool } from "../../src/store/pool.js";
import { GroupCommitWriter } from "../../src/interactions/writer.js";
import type { WriterOptions } from "../../src/interactions/writer-contract.js";
import { EventEncoder, eventMessage } from "./frames.js";
import { Measurement, type LoadResult } from "./measure.js";
import type { Notify } from "./load.js";

export interface DirectJob {
  databaseUrl: string;
  /** The MCP ids of the keys the gRPC runs use (virtual stream i writes as mcpIds[i % n]). */
  mcpIds: string[];
  writer: WriterOptions;
  poolSize: number;
  streams: number;
  window: number;
  /** Open loop instead: this many events/s in all, round-robin over the streams. */
  rate?: number;
  warmupMs: number;
  durationMs: number;
  runTag: string;
}

/** Runs the closed loop against a GroupCommitWriter. */
export async function runDirect(job: DirectJob, notify: Notify): Promise<LoadResult> {
  const logger = createLogger("silent");
  const pool = createPool(job.databaseUrl, logger, { max: job.poolSize });
  const writer = new GroupCommitWriter(pool, logger, job.writer);
  const encoder = new EventEncoder(job.runTag, Date.now());
  const occurredAtMs = Date.now();
  const measurement = new Measurement();
  const streams = Array.from({ length: job.streams }, (_, index) => ({
    index,
    streamId: randomUUID(),
    mcpId: job.mcpIds[index % job.mcpIds.length]!,
    nextSeq: 1,
    inFlight: 0,
  }));
  let outstanding = 0;
  let avgBatch = NaN;
  let failure: Error | undefined;
  const submitOne = (stream: (typeof streams)[number]) => {
    const seq = stream.nextSeq++;
    const { eventId, interactionId, userId, kind } = encoder.ids(stream.index, seq);
    const event = eventMessage(kind, eventId, interactionId, BigInt(seq), occurredAtMs, userId);
    const sentAt = performance.now();
    stream.inFlight++;
    outstanding++;
    if (measurement.phase === "measure") measurement.sent++;
    const [outcome] = writer.submit([{ mcpId: stream.mcpId, event, streamId: stream.streamId }]);
    writer.kick();
    outcome!.then(
      (result) => {
        measurement.ack(sentAt, performance.now());
        if (result.status !== "stored" && measurement.phase === "measure") measurement.notStored++;
        stream.inFlight--;
        outstanding--;
        if (!job.rate) pump(stream);
      },
      (error: unknown) => {
        failure = error as Error;
        outstanding--;
        measurement.problem(`writer failed: ${failure.message}`);
      },
    );
  };
  const pump = (stream: (typeof streams)[number]) => {
    while (measurement.phase !== "stop" && stream.inFlight < job.window && !failure) submitOne(stream);
  };
  let ticker: NodeJS.Timeout | undefined;
  try {
    if (job.rate) {
      // Open loop: one global even schedule, round-robin over the streams.
      const intervalMs = 1000 / job.rate;
      let due = performance.now();
      let next = 0;
      ticker = setInterval(() => {
        const now = performance.now();
        while (due <= now && measurement.phase !== "stop" && !failure) {
          if (measurement.phase === "measure") measurement.lag.record(now - due);
          submitOne(streams[next++ % streams.length]!);
          due += intervalMs;
        }
      }, 1);
    } else {
      for (const stream of streams) pump(stream);
    }
    let atStart = writer.stats();
    let atEnd = atStart;
    await measurement.run(job.warmupMs, job.durationMs, (event) => {
      if (event === "measure-start") atStart = writer.stats();
      else atEnd = writer.stats();
      notify(event);
    });
    if (ticker) clearInterval(ticker);
    avgBatch = (atEnd.stored + atEnd.duplicates - atStart.stored - atStart.duplicates) / Math.max(1, atEnd.batches - atStart.batches);
    await writer.close();
    if (outstanding > 0) measurement.problem(`${outstanding} events unresolved after close`);
  } finally {
    if (ticker) clearInterval(ticker);
    await pool.end();
  }
  return { ...measurement.result(job.streams, job.window, Boolean(job.rate)), avgBatch };
}
