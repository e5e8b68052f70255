/**
 * Why the human-loop domain refuses a call. Domain code throws these; the transport maps each
 * code to its gRPC status (INVALID_ARGUMENT, NOT_FOUND, ...), the one place that knows both sides.
 */
export type DecisionErrorCode = "invalid_argument" | "not_found" | "failed_precondition" | "permission_denied" | "already_exists" | "resource_exhausted" | "unavailable";

/** A refused decision call; the message says what to fix or which state prevents it. */
export class DecisionError extends Error {
  override name = "DecisionError";
  constructor(
    readonly code: DecisionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A bad value in a request: INVALID_ARGUMENT whose message starts with the field's path as the
 * client wrote it (e.g. "spec.form.fields[2].pattern: does not compile: ...").
 */
export class InvalidFieldError extends DecisionError {
  override name = "InvalidFieldError";
  constructor(
    /** The request path of the bad value, e.g. "response.value.form.port". */
    readonly field: string,
    /** What is wrong, without the field name. */
    readonly reason: string,
  ) {
    super("invalid_argument", `${field}: ${reason}`);
  }
}
