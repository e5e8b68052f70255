/**
 * Turns whatever a handler throws into a gRPC status a client can act on, and logs the unexpected.
 *
 * - ServerError: passed through (handlers choose their status and message).
 * - Anything else is a bug: logged with its stack, answered INTERNAL without internals, and the
 *   process keeps serving (one bad request never harms another).
 */
import { isAbortError } from "abort-controller-x";
import { ServerError, Status, type CallContext, type ServerMiddlewareCall } from "nice-grpc-common";
import type { Logger } from "pino";

/**
 * Creates the outermost middleware of every service.
 *
 * @param logger - where unexpected errors are reported.
 */
export function errorMiddleware(logger: Logger) {
  return async function* handleErrors<Request, Response>(
    call: ServerMiddlewareCall<Request, Response>,
    context: CallContext,
  ): AsyncGenerator<Response, Response | void, undefined> {
    try {
      return yield* call.next(call.request, context);
    } catch (error) {
      if (error instanceof ServerError) throw error;
      // A client that went away aborts its call; nothing to report.
      if (isAbortError(error) || context.signal.aborted) throw error;
      logger.error({ err: error, method: call.method.path, peer: context.peer }, "unexpected error in handler");
      throw new ServerError(Status.INTERNAL, `internal error in ${call.method.path}; the coordinator logged the details`);
    }
  };
}
