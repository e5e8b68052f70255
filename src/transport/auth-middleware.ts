/**
 * Authenticates every call of the coordinator's own services and checks the role table.
 * Health and reflection are added without it: probes and grpcurl need no key.
 */
import { ServerError, Status, type CallContext, type ServerMiddlewareCall } from "nice-grpc-common";
import { AuthenticationError, type Authenticator, type Principal } from "../auth/authenticator.js";
import { mayCall, rolesFor } from "../auth/permissions.js";

/** What the auth middleware adds to a handler's CallContext. */
export interface AuthContext {
  principal: Principal;
}

/**
 * Creates the middleware.
 *
 * @param authenticator - validates bearer tokens.
 * @returns a middleware that answers UNAUTHENTICATED for a missing, malformed, unknown, expired or
 *   revoked key and PERMISSION_DENIED for a role that may not call the method.
 */
export function authMiddleware(authenticator: Authenticator) {
  return async function* authenticate<Request, Response>(
    call: ServerMiddlewareCall<Request, Response, AuthContext>,
    context: CallContext,
  ): AsyncGenerator<Response, Response | void, undefined> {
    const method = call.method.path.replace(/^\//, "");
    let principal: Principal;
    try {
      principal = await authenticator.authenticate(context.metadata.get("authorization"));
    } catch (error) {
      if (error instanceof AuthenticationError) throw new ServerError(Status.UNAUTHENTICATED, error.message);
      // The key store could not be asked (database down): the client should retry, not give up.
      throw new ServerError(Status.UNAVAILABLE, "cannot check the API key right now (database unreachable); retry shortly");
    }
    if (!mayCall(principal.role, method)) {
      throw new ServerError(
        Status.PERMISSION_DENIED,
        `role ${principal.role} (key ${principal.keyId}) may not call ${method}; allowed roles: ${rolesFor(method).join(", ")}`,
      );
    }
    return yield* call.next(call.request, { ...context, principal });
  };
}
