/**
 * The ingest side of the log manager, assembled: the group-commit writer, the open streams and
 * their housekeeping, the counters, and the limits every client is told.
 */
import type { Pool } from "pg";
import type { Logger } from "pino";
import type { EventMetadata, InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StreamInteractionsRequest, StreamInteractionsResponseSchema } from "../../gen/coordinator/v1/interaction_ingest_pb.js";
import { newIngestCounters, type IngestCounters } from "./counters.js";
import { IngestSession, type ConnectionTracker, type SessionDeps, type StreamCaller } from "./ingest-session.js";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "./limits.js";
import { reportEvents, type ReportAck } from "./report.js";
import { SessionSweeper } from "./session-sweeper.js";
import type { EventPolicy } from "./validate.js";
import { GroupCommitWriter } from "./writer.js";
import type { EventWriter, WriterOptions } from "./writer-contract.js";

/** Everything ingest needs. */
export interface IngestOptions {
  pool: Pool;
  logger: Logger;
  connections: ConnectionTracker;
  coordinatorInstance: string;
  serverVersion: string;
  limits?: Partial<IngestLimits>;
  /** The privacy policy applied to every event before it is written; none: stored as sent. */
  privacy?: EventPolicy;
  writer?: WriterOptions;
  /**
   * Replaces the group-commit writer. Only the benchmark uses it, to measure the protocol's
   * ceiling with a writer that acks without storing.
   */
  sink?: EventWriter;
  /** Streams older than this are asked to reconnect (ms). Default 1 h. */
  maxStreamAgeMs?: number;
}

/** See the module comment. */
export class Ingest {
  readonly limits: IngestLimits;
  readonly counters: IngestCounters = newIngestCounters();
  readonly writer: EventWriter;
  readonly #sweeper: SessionSweeper;
  readonly #options: IngestOptions;
  /** What every session shares (one object for all, rather than one per stream). */
  readonly #sessionDeps: SessionDeps;

  constructor(options: IngestOptions) {
    this.#options = options;
    this.limits = { ...DEFAULT_INGEST_LIMITS, ...options.limits };
    this.writer = options.sink ?? new GroupCommitWriter(options.pool, options.logger, options.writer);
    this.#sweeper = new SessionSweeper(this.limits, { maxStreamAgeMs: options.maxStreamAgeMs ?? 3_600_000 });
    this.#sweeper.start();
    this.#sessionDeps = {
      writer: this.writer,
      connections: options.connections,
      counters: this.counters,
      limits: this.limits,
      privacy: options.privacy,
      coordinatorInstance: options.coordinatorInstance,
      serverVersion: options.serverVersion,
      logger: options.logger,
      // The session tells us when its stream is over, however it ended.
      onFinished: (session) => this.#sweeper.remove(session),
    };
  }

  /**
   * Starts one StreamInteractions stream; the returned iterable is its response frames.
   *
   * @param recheckKey - re-validates the caller's key (rejects with IngestError "unauthenticated").
   * @throws IngestError when the stream ends with an error status.
   */
  stream(
    requests: AsyncIterable<StreamInteractionsRequest>,
    caller: StreamCaller,
    recheckKey: () => Promise<void>,
    receivedEventBytes?: (frame: StreamInteractionsRequest) => Uint8Array | undefined,
  ): AsyncIterable<MessageInitShape<typeof StreamInteractionsResponseSchema>> {
    const session = new IngestSession(this.#sessionDeps, { caller, recheckKey, receivedEventBytes });
    this.#sweeper.add(session);
    return session.run(requests);
  }

  /** ReportInteractions (see report.ts). */
  report(caller: StreamCaller, request: { mcpId: string; events: InteractionEvent[]; metadata: EventMetadata | undefined }): Promise<ReportAck[]> {
    return reportEvents(
      { writer: this.writer, counters: this.counters, limits: this.limits, privacy: this.#options.privacy, touch: (id) => this.#options.connections.touch(id) },
      caller,
      request,
    );
  }

  /** Open streams on this process. */
  get openStreams(): number {
    return this.#sweeper.size;
  }

  /** Shutdown, step one: every stream is told to drain (and new ones are at once). */
  drainAll(reason: string): void {
    this.#sweeper.drainAll(reason);
  }

  /** Shutdown, step two (after the streams ended): store what is queued, stop the timers. */
  async close(): Promise<void> {
    this.#sweeper.stop();
    await this.writer.close();
  }
}
