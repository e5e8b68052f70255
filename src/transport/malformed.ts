/**
 * Malformed request bytes: answered INVALID_ARGUMENT naming the message, never INTERNAL.
 *
 * grpc-js turns an exception in a request deserializer into a bare INTERNAL "Error deserializing
 * request". A client that sent bad bytes deserves INVALID_ARGUMENT saying which message could not
 * be parsed and why, so our deserializers return a {@link MalformedRequest} marker instead of
 * throwing, and {@link rejectMalformed} (which runs after authentication, so an anonymous caller
 * learns nothing before it is authenticated) answers with that status before a handler sees it.
 */
import { ServerError, Status } from "nice-grpc-common";
import type { CallGate } from "./error-middleware.js";

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
 * The gate (see error-middleware.ts) of services that need no key: answers INVALID_ARGUMENT for a
 * malformed request (unary) or stream message. Every service whose deserializers are
 * {@link tolerant} must run behind it (or behind the auth gate, which does the same check after
 * authenticating).
 */
export const rejectMalformed: CallGate = (call, context) => ({ request: rejectMalformedRequest(call), context });

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

/**
 * The request stream with each message checked. A plain iterator that passes next() through, not
 * an async generator: a generator layer would stay suspended (frame, promises, closures) for as
 * long as a stream is open, and idle streams are counted in bytes.
 */
function rejectMalformedStream<Request>(requests: AsyncIterable<Request>): AsyncIterable<Request> {
  return new CheckedStream(requests[Symbol.asyncIterator]());
}

class CheckedStream<Request> implements AsyncIterable<Request>, AsyncIterator<Request> {
  readonly #source: AsyncIterator<Request>;
  #index = 0;

  constructor(source: AsyncIterator<Request>) {
    this.#source = source;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Request>> {
    return this.#source.next().then((result) => this.#check(result));
  }

  return(value?: unknown): Promise<IteratorResult<Request>> {
    return this.#source.return?.(value) ?? Promise.resolve({ done: true, value: undefined });
  }

  #check(result: IteratorResult<Request>): IteratorResult<Request> {
    if (result.done) return result;
    this.#index++;
    if (result.value instanceof MalformedRequest) {
      // As a for-await loop would, let go of the source before throwing.
      this.#source.return?.().catch(() => undefined);
      throw new ServerError(Status.INVALID_ARGUMENT, `message #${this.#index} of the stream: ${result.value.describe()}`);
    }
    return result;
  }
}
