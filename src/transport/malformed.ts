/**
 * Malformed request bytes: answered INVALID_ARGUMENT naming the message, never INTERNAL.
 *
 * grpc-js turns an exception in a request deserializer into a bare INTERNAL "Error deserializing
 * request". A client that sent bad bytes deserves INVALID_ARGUMENT saying which message could not
 * be parsed and why, so our deserializers return a {@link MalformedRequest} marker instead of
 * throwing, and {@link rejectMalformed} (which runs after authentication, so an anonymous caller
 * learns nothing before it is authenticated) answers with that status before a handler sees it.
 */
import { ServerError, Status, type CallContext, type ServerMiddlewareCall } from "nice-grpc-common";

/** Stands in for a request message whose bytes could not be parsed. */
export class MalformedRequest {
  constructor(
    /** Full protobuf name of the message that failed to parse. */
    readonly typeName: string,
    readonly cause: string,
  ) {}

  /** The message a client sees. */
  describe(): string {
    return `request is not a valid ${this.typeName} message: ${this.cause}`;
  }
}

/**
 * Wraps a deserializer so that it returns a {@link MalformedRequest} instead of throwing.
 *
 * @param typeName - the message's full name, for the client's error message.
 */
export function tolerant<Bytes extends Uint8Array, T>(typeName: string, deserialize: (bytes: Bytes) => T): (bytes: Bytes) => T {
  return (bytes) => {
    try {
      return deserialize(bytes);
    } catch (error) {
      return new MalformedRequest(typeName, (error as Error).message) as unknown as T;
    }
  };
}

/**
 * Middleware that answers INVALID_ARGUMENT for a malformed request (unary) or stream message.
 * Every service whose deserializers are {@link tolerant} must run behind it (or behind the auth
 * middleware, which does the same check after authenticating).
 */
export async function* rejectMalformed<Request, Response>(
  call: ServerMiddlewareCall<Request, Response>,
  context: CallContext,
): AsyncGenerator<Response, Response | void, undefined> {
  return yield* call.next(rejectMalformedRequest(call), context);
}

/**
 * The call's request, checked: throws INVALID_ARGUMENT for a malformed unary request; wraps a
 * request stream so a malformed message ends it with INVALID_ARGUMENT.
 */
export function rejectMalformedRequest<Request>(
  call: { requestStream: false; request: Request } | { requestStream: true; request: AsyncIterable<Request> },
): Request | AsyncIterable<Request> {
  if (call.requestStream) return rejectMalformedStream(call.request);
  if (call.request instanceof MalformedRequest) throw new ServerError(Status.INVALID_ARGUMENT, call.request.describe());
  return call.request;
}

async function* rejectMalformedStream<Request>(requests: AsyncIterable<Request>): AsyncIterable<Request> {
  let index = 0;
  for await (const request of requests) {
    index++;
    if (request instanceof MalformedRequest) {
      throw new ServerError(Status.INVALID_ARGUMENT, `message #${index} of the stream: ${request.describe()}`);
    }
    yield request;
  }
}
