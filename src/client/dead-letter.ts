/**
 * The dead-letter file: events the coordinator rejected (ACK_STATUS_REJECTED), with the reason, so
 * a person can see what was wrong and replay them by hand once fixed. Resending would not help.
 *
 * JSON lines: `{"time": ISO-8601, "eventId", "reason", "event": <InteractionEvent as proto JSON>}`.
 */
import fs from "node:fs";
import { toJson } from "@bufbuild/protobuf";
import { InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import type { ReporterLogger } from "./logger.js";

/** An append-only dead-letter file, bounded in size. */
export class DeadLetterFile {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #logger: ReporterLogger;
  #bytes: number;
  #full = false;

  /**
   * @param filePath - where to append (created on first write).
   * @param maxBytes - once the file is this big, further rejects are only logged: a client bug
   *   that gets every event rejected must not fill the disk.
   */
  constructor(filePath: string, maxBytes: number, logger: ReporterLogger) {
    this.path = filePath;
    this.#maxBytes = maxBytes;
    this.#logger = logger;
    try {
      this.#bytes = fs.statSync(filePath).size;
    } catch {
      this.#bytes = 0;
    }
  }

  /**
   * Appends one rejected event. Synchronous, so it is on disk before the event leaves the spool.
   *
   * @returns whether it was written. Never throws.
   */
  write(event: InteractionEvent, reason: string, now = new Date()): boolean {
    try {
      const line = `${JSON.stringify({
        time: now.toISOString(),
        eventId: event.eventId,
        reason,
        event: toJson(InteractionEventSchema, event),
      })}\n`;
      const size = Buffer.byteLength(line);
      if (this.#bytes + size > this.#maxBytes) {
        if (!this.#full) this.#logger.error({ path: this.path, maxBytes: this.#maxBytes }, "dead-letter file full; further rejected events are only logged");
        this.#full = true;
        return false;
      }
      fs.appendFileSync(this.path, line);
      this.#bytes += size;
      return true;
    } catch (error) {
      this.#logger.error({ err: String(error), path: this.path, eventId: event.eventId }, "cannot write the dead-letter file");
      return false;
    }
  }
}
