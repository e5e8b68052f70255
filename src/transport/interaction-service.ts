/**
 * InteractionService over gRPC: hands frames and requests to the ingest domain (whose errors the
 * error middleware maps to statuses). Methods not built yet answer UNIMPLEMENTED naming the issue
 * that brings them.
 */
import type { CallContext } from "nice-grpc-common";
import type { ReportInteractionsRequest, StreamInteractionsRequest } from "../../gen/coordinator/v1/interaction_ingest_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AuthenticationError, type Authenticator } from "../auth/authenticator.js";
import type { Ingest } from "../interactions/ingest.js";
import { IngestError } from "../interactions/stream-end.js";
import type { AuthContext } from "./auth-middleware.js";
import { eventBytesOfFrame } from "./wire-bytes.js";
import { unimplementedHandlers } from "./unimplemented.js";

/** Extra handlers provided by other parts (the registry's RegisterMcp and ListMcps). */
export type ExtraInteractionHandlers = Partial<Record<keyof (typeof InteractionService)["method"], unknown>>;

/**
 * The InteractionService implementation.
 *
 * @param ingest - the ingest domain.
 * @param authenticator - streams re-check their key with it (revocation ends them).
 * @param extra - handlers implemented elsewhere (registry).
 */
export function interactionService(ingest: Ingest, authenticator: Authenticator, extra: ExtraInteractionHandlers) {
  return {
    ...unimplementedHandlers(InteractionService, () => "the log manager's read side (issue #5)"),
    ...extra,

    // Returns the session's own stream: no generator layer of its own (idle streams are counted
    // in bytes), and IngestErrors become statuses in the error middleware.
    streamInteractions(requests: AsyncIterable<StreamInteractionsRequest>, context: CallContext & AuthContext) {
      const recheckKey = keyRecheck(authenticator, context.metadata.get("authorization"));
      // The principal serves as the stream's caller as it is: the call keeps it anyway.
      return ingest.stream(requests, context.principal, recheckKey, eventBytesOfFrame);
    },

    async reportInteractions(request: ReportInteractionsRequest, context: CallContext & AuthContext) {
      const { principal } = context;
      const acks = await ingest.report(
        { role: principal.role, mcpId: principal.mcpId, keyId: principal.keyId },
        { mcpId: request.mcpId, events: request.events, metadata: request.metadata },
      );
      return { acks };
    },
  };
}

/**
 * Re-validates a stream's key, for the session's periodic re-check.
 *
 * The function is returned as it is made, never bound to a name first: tsx (esbuild's keepNames)
 * wraps every function that gets a name from a binding or property in a call that defines its
 * `name`, which gives that function a property dictionary of a few hundred bytes, and an open
 * stream keeps this function for its whole life.
 */
function keyRecheck(authenticator: Authenticator, authorization: string | undefined): () => Promise<void> {
  return async () => {
    try {
      await authenticator.authenticate(authorization);
    } catch (error) {
      if (error instanceof AuthenticationError) throw new IngestError("unauthenticated", error.message);
      throw error;
    }
  };
}
