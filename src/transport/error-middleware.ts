/**
 * Turns whatever a handler throws into a gRPC status a client can act on, and logs the unexpected.
 *
 * - ServerError: passed through (handlers choose their status and message).
 * - Malformed request bytes: INVALID_ARGUMENT naming the message type.
 * - Anything else is a bug: logged with its stack, answered INTERNAL without internals, and the
 *   process keeps serving (one bad request never harms another).
 */
import { isAbortError } from "abort-controller-x";
import { ServerError, Status, type CallContext, type ServerMiddlewareCall } from "nice-grpc-common";
import type { Logger } from "pino";
import { MalformedRequest } from "./malformed.js";

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
      if (call.requestStream) {
        return yield* call.next(rejectMalformedStream(call.request), context);
      }
      if (call.request instanceof MalformedRequest) {
        throw new ServerError(Status.INVALID_ARGUMENT, call.request.describe());
      }
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

async function* rejectMalformedStream<Request>(requests: AsyncIterable<Request>): AsyncIterable<Request> {
  let index = 0;
  for await (const request of requests) {
    if (request instanceof MalformedRequest) {
      throw new ServerError(Status.INVALID_ARGUMENT, `message #${index + 1} of the stream: ${request.describe()}`);
    }
    index++;
    yield request;
  }
}
