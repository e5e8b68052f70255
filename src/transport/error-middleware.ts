/**
 * The one middleware of every call: turns whatever a handler throws into a gRPC status a client
 * can act on, and writes one log line per finished call (method, peer, status, duration). Before
 * the handler it runs the call's gate (authentication, request checks), whose errors are handled
 * the same way.
 *
 * - ServerError: passed through (handlers choose their status and message).
 * - IngestError, DecisionError and QueryError (the domains' errors): mapped to their status here, the one
 *   place that knows both sides; IngestError with a grpc-retry-pushback-ms trailer when the domain
 *   gave a retry hint.
 * - Anything else is a bug: logged with its stack, answered INTERNAL without internals, and the
 *   process keeps serving (one bad request never harms another).
 *
 * Logging, translation and the gates share one middleware on purpose: every middleware is one more
 * suspended async generator (plus nice-grpc's copies of the call) per open stream, and ten
 * thousand idle streams make that count.
 */
import { isAbortError } from "abort-controller-x";
import { ServerError, Status, type CallContext, type ServerMiddlewareCall } from "nice-grpc-common";
import type { Logger } from "pino";
import { DecisionError, type DecisionErrorCode } from "../humanloop/errors.js";
import { QueryError, type QueryErrorCode } from "../interactions/read/query-error.js";
import { IngestError, type IngestErrorCode } from "../interactions/stream-end.js";

/** Codes that mean the server, not the caller, has a problem. */
const SERVER_FAULTS = new Set([Status.INTERNAL, Status.UNKNOWN, Status.DATA_LOSS, Status.UNAVAILABLE]);

const INGEST_STATUS: Record<IngestErrorCode, Status> = {
  failed_precondition: Status.FAILED_PRECONDITION,
  permission_denied: Status.PERMISSION_DENIED,
  invalid_argument: Status.INVALID_ARGUMENT,
  resource_exhausted: Status.RESOURCE_EXHAUSTED,
  deadline_exceeded: Status.DEADLINE_EXCEEDED,
  unauthenticated: Status.UNAUTHENTICATED,
  unavailable: Status.UNAVAILABLE,
};

const DECISION_STATUS: Record<DecisionErrorCode, Status> = {
  invalid_argument: Status.INVALID_ARGUMENT,
  not_found: Status.NOT_FOUND,
  failed_precondition: Status.FAILED_PRECONDITION,
  permission_denied: Status.PERMISSION_DENIED,
  already_exists: Status.ALREADY_EXISTS,
  resource_exhausted: Status.RESOURCE_EXHAUSTED,
  unavailable: Status.UNAVAILABLE,
};

const QUERY_STATUS: Record<QueryErrorCode, Status> = {
  invalid_argument: Status.INVALID_ARGUMENT,
  not_found: Status.NOT_FOUND,
  failed_precondition: Status.FAILED_PRECONDITION,
  resource_exhausted: Status.RESOURCE_EXHAUSTED,
  unavailable: Status.UNAVAILABLE,
};

/** What a gate lets through to the handler: the request (checked, or wrapped) and the context. */
export interface Admitted {
  request: unknown;
  context: CallContext;
}

/**
 * A step run before the handler, inside the error middleware: it refuses a call by throwing, or
 * admits it. A gate rather than a middleware of its own: see the module comment.
 */
export type CallGate = (call: ServerMiddlewareCall<unknown, unknown>, context: CallContext) => Admitted | Promise<Admitted>;

/**
 * Creates the middleware.
 *
 * @param logger - where calls and unexpected errors are reported.
 * @param gate - run before the handler (default: admit every call as it is).
 */
export function errorMiddleware(logger: Logger, gate?: CallGate) {
  return async function* handleCall<Request, Response>(
    call: ServerMiddlewareCall<Request, Response>,
    context: CallContext,
  ): AsyncGenerator<Response, Response | void, undefined> {
    const started = performance.now();
    try {
      const admitted = gate ? await gate(call as ServerMiddlewareCall<unknown, unknown>, context) : { request: call.request, context };
      const result = yield* call.next(admitted.request as Request, admitted.context);
      logger.debug({ ...callFields(call, context, started), code: "OK" }, "call finished");
      return result;
    } catch (error) {
      if (isAbortError(error) || (context.signal.aborted && !(error instanceof ServerError))) {
        // The client went away; nothing to report.
        logger.debug({ ...callFields(call, context, started), code: "CANCELLED" }, "call cancelled by the client");
        throw error;
      }
      const status = toServerError(error, context);
      if (!isExpectedError(error)) {
        logger.error({ ...callFields(call, context, started), err: error }, "unexpected error in handler");
      }
      const level = isServerFault(status.code) ? "warn" : "info";
      logger[level]({ ...callFields(call, context, started), code: Status[status.code], details: status.details }, "call failed");
      throw status;
    }
  };
}

/**
 * The log fields of a finished call. A function of its own rather than a closure in the
 * middleware: an open stream would keep the closure (and, under tsx's keepNames, a property
 * dictionary for its name) for its whole life.
 */
function callFields(call: { method: { path: string } }, context: CallContext, started: number) {
  return { method: call.method.path, peer: context.peer, ms: Math.round(performance.now() - started) };
}

function toServerError(error: unknown, context: CallContext): ServerError {
  // Standard gRPC retry hint: how long the client should wait before retrying.
  if (error instanceof IngestError && error.retryAfterMs !== undefined) context.trailer.set("grpc-retry-pushback-ms", String(error.retryAfterMs));
  return statusOf(error);
}

/**
 * The status a thrown error is answered with: a ServerError's own, a domain error's mapped one,
 * INTERNAL (without internals) for anything else.
 */
export function statusOf(error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  if (error instanceof IngestError) return new ServerError(INGEST_STATUS[error.code], error.message);
  if (error instanceof DecisionError) return new ServerError(DECISION_STATUS[error.code], error.message);
  if (error instanceof QueryError) return new ServerError(QUERY_STATUS[error.code], error.message);
  return new ServerError(Status.INTERNAL, "internal error; the coordinator logged the details");
}

/** True for the errors whose status a handler chose (not bugs). */
export function isExpectedError(error: unknown): boolean {
  return error instanceof ServerError || error instanceof IngestError || error instanceof DecisionError || error instanceof QueryError;
}

/** Whether a status means the server, not the caller, has a problem (logged as a warning). */
export function isServerFault(code: Status): boolean {
  return SERVER_FAULTS.has(code);
}
