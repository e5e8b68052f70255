/**
 * Why a read of interaction data is refused, or a live tail ended (resource_exhausted,
 * unavailable). Domain code throws these; the transport maps each code to its gRPC status
 * (error-middleware.ts).
 */
export type QueryErrorCode = "invalid_argument" | "not_found" | "failed_precondition" | "resource_exhausted" | "unavailable";

/** A refused query; the message names the field at fault where there is one. */
export class QueryError extends Error {
  override name = "QueryError";
  constructor(
    readonly code: QueryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** INVALID_ARGUMENT naming `field`: "time_range: ...". */
export function invalidField(field: string, problem: string): QueryError {
  return new QueryError("invalid_argument", `${field}: ${problem}`);
}
