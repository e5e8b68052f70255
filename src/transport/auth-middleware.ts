/**
 * Authenticates every call of the coordinator's own services and checks the role table: the gate
 * (see error-middleware.ts) of those services. Health and reflection are added without it:
 * probes and grpcurl need no key.
 */
import { ServerError, Status, type CallContext } from "nice-grpc-common";
import { AuthenticationError, type Authenticator, type Principal } from "../auth/authenticator.js";
import { mayCall, rolesFor } from "../auth/permissions.js";
import type { CallGate } from "./error-middleware.js";
import { rejectMalformedRequest } from "./malformed.js";
import type { Logger } from "pino";

/** What the auth gate adds to a handler's CallContext. */
export interface AuthContext {
  principal: Principal;
}

/**
 * Creates the gate.
 *
 * @param authenticator - validates bearer tokens.
 * @param logger - where failed key lookups (database trouble) are reported.
 * @returns a gate that answers UNAUTHENTICATED for a missing, malformed, unknown, expired or
 *   revoked key and PERMISSION_DENIED for a role that may not call the method; it gives the
 *   handler the caller's {@link AuthContext}.
 */
export function authGate(authenticator: Authenticator, logger: Logger): CallGate {
  return async (call, context) => {
    const principal = await authorize(authenticator, logger, call.method.path, context.metadata.get("authorization"));
    // The request is looked at only now, after authentication, so an anonymous caller learns
    // nothing about it.
    const handlerContext: CallContext & AuthContext = { ...context, principal };
    return { request: rejectMalformedRequest(call), context: handlerContext };
  };
}

/**
 * Authenticates a call's `authorization` header and checks that the key's role may call `path`.
 *
 * @param path - the method, "/package.Service/Method".
 * @throws ServerError UNAUTHENTICATED (missing, malformed, unknown, expired or revoked key),
 *   PERMISSION_DENIED (role), UNAVAILABLE (the key store cannot be asked).
 */
export async function authorize(authenticator: Authenticator, logger: Logger, path: string, authorization: string | undefined): Promise<Principal> {
  const method = path.replace(/^\//, "");
  let principal: Principal;
  try {
    principal = await authenticator.authenticate(authorization);
  } catch (error) {
    if (error instanceof AuthenticationError) throw new ServerError(Status.UNAUTHENTICATED, error.message);
    // A bug is a bug: let the caller log it and answer INTERNAL.
    if (isProgrammingError(error)) throw error;
    // The key store could not be asked (database down or overloaded): retry, do not give up.
    logger.warn({ err: error, method }, "cannot look up the API key");
    throw new ServerError(Status.UNAVAILABLE, "cannot check the API key right now (database unavailable); retry shortly");
  }
  if (!mayCall(principal.role, method)) {
    throw new ServerError(
      Status.PERMISSION_DENIED,
      `role ${principal.role} (key ${principal.keyId}) may not call ${method}; allowed roles: ${rolesFor(method).join(", ")}`,
    );
  }
  return principal;
}

function isProgrammingError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof ReferenceError || error instanceof RangeError || error instanceof SyntaxError;
}
