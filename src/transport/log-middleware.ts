/**
 * One log line per finished call: method, peer, key id, status code and duration. Debug level for
 * successes (a busy server makes many), warn for server-side failures, info for client errors.
 */
import { ServerError, Status, type CallContext, type ServerMiddlewareCall } from "nice-grpc-common";
import { isAbortError } from "abort-controller-x";
import type { Logger } from "pino";

/** Codes that mean the server, not the caller, has a problem. */
const SERVER_FAULTS = new Set([Status.INTERNAL, Status.UNKNOWN, Status.DATA_LOSS, Status.UNAVAILABLE]);

/**
 * Creates the call-logging middleware (outermost, so it sees the status the client gets).
 *
 * @param logger - destination.
 */
export function callLogMiddleware(logger: Logger) {
  return async function* logCalls<Request, Response>(
    call: ServerMiddlewareCall<Request, Response>,
    context: CallContext,
  ): AsyncGenerator<Response, Response | void, undefined> {
    const started = performance.now();
    const fields = () => ({ method: call.method.path, peer: context.peer, ms: Math.round(performance.now() - started) });
    try {
      const result = yield* call.next(call.request, context);
      logger.debug({ ...fields(), code: "OK" }, "call finished");
      return result;
    } catch (error) {
      if (error instanceof ServerError) {
        const level = SERVER_FAULTS.has(error.code) ? "warn" : "info";
        logger[level]({ ...fields(), code: Status[error.code], details: error.details }, "call failed");
      } else if (isAbortError(error)) {
        logger.debug({ ...fields(), code: "CANCELLED" }, "call cancelled by the client");
      }
      throw error;
    }
  };
}
