/**
 * Ceiling (a): an EventWriter that acks every event at once, storing nothing. Plugged into the
 * coordinator as `ingestSink`, it leaves everything else (gRPC, auth, validation, sessions, acks)
 * as in production, so the gap to it is what storing costs.
 */
import type { EventWriter, WriteItem, WriteOutcome, WriterStats } from "../../src/interactions/writer-contract.js";

const STORED: WriteOutcome = { status: "stored" };

/** See the module comment. */
export class EchoSink implements EventWriter {
  #acked = 0;
  #submits = 0;

  submit(items: readonly WriteItem[]): Promise<WriteOutcome>[] {
    this.#acked += items.length;
    this.#submits++;
    return items.map(() => Promise.resolve(STORED));
  }

  kick(): void {}

  hasCapacity(): boolean {
    return true;
  }

  waitForCapacity(): Promise<void> {
    return Promise.resolve();
  }

  stats(): WriterStats {
    return {
      queued: 0,
      inFlight: 0,
      stored: this.#acked,
      duplicates: 0,
      refused: 0,
      batches: this.#submits,
      failedAttempts: 0,
      unannouncedBatches: 0,
      lastBatchSize: 1,
      maxBatchSize: 1,
      running: true,
    };
  }

  async close(): Promise<void> {}
}
