/**
 * Malformed request bytes, carried to the error middleware instead of being thrown.
 *
 * grpc-js turns an exception in a request deserializer into a bare INTERNAL "Error deserializing
 * request". A client that sent bad bytes deserves INVALID_ARGUMENT saying which message could not
 * be parsed and why, so the deserializer returns this marker and the error middleware (which every
 * service runs behind) answers with that status before any handler sees the request.
 */
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
