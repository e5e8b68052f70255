/**
 * Why the coordinator ends an ingest stream (or refuses a report). Domain code throws these; the
 * transport maps each code to its gRPC status.
 */
export type IngestErrorCode =
  | "failed_precondition"
  | "permission_denied"
  | "invalid_argument"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "unauthenticated"
  | "unavailable";

/** An ingest failure that the client must act on; the message says how. */
export class IngestError extends Error {
  override name = "IngestError";
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    /** For "unavailable": when to retry (sent as grpc-retry-pushback-ms). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
