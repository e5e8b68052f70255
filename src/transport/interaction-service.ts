/**
 * InteractionService over gRPC: maps frames and requests to the ingest domain and its errors to
 * statuses. Methods not built yet answer UNIMPLEMENTED naming the issue that brings them.
 */
import { ServerError, Status, type CallContext } from "nice-grpc-common";
import type { ReportInteractionsRequest, StreamInteractionsRequest } from "../../gen/coordinator/v1/interaction_ingest_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AuthenticationError, type Authenticator } from "../auth/authenticator.js";
import type { Ingest } from "../interactions/ingest.js";
import { IngestError, type IngestErrorCode } from "../interactions/stream-end.js";
import type { AuthContext } from "./auth-middleware.js";
import { unimplementedHandlers } from "./unimplemented.js";

const STATUS_OF: Record<IngestErrorCode, Status> = {
  failed_precondition: Status.FAILED_PRECONDITION,
  permission_denied: Status.PERMISSION_DENIED,
  invalid_argument: Status.INVALID_ARGUMENT,
  resource_exhausted: Status.RESOURCE_EXHAUSTED,
  deadline_exceeded: Status.DEADLINE_EXCEEDED,
  unauthenticated: Status.UNAUTHENTICATED,
  unavailable: Status.UNAVAILABLE,
};

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

    async *streamInteractions(requests: AsyncIterable<StreamInteractionsRequest>, context: CallContext & AuthContext) {
      const { principal } = context;
      const authorization = context.metadata.get("authorization");
      const recheckKey = async () => {
        try {
          await authenticator.authenticate(authorization);
        } catch (error) {
          if (error instanceof AuthenticationError) throw new IngestError("unauthenticated", error.message);
          throw error;
        }
      };
      try {
        yield* ingest.stream(requests, { role: principal.role, mcpId: principal.mcpId, keyId: principal.keyId }, recheckKey);
      } catch (error) {
        throw toServerError(error, context);
      }
    },

    async reportInteractions(request: ReportInteractionsRequest, context: CallContext & AuthContext) {
      const { principal } = context;
      try {
        const acks = await ingest.report(
          { role: principal.role, mcpId: principal.mcpId, keyId: principal.keyId },
          { mcpId: request.mcpId, events: request.events, metadata: request.metadata },
        );
        return { acks };
      } catch (error) {
        throw toServerError(error, context);
      }
    },
  };
}

function toServerError(error: unknown, context: CallContext): unknown {
  if (!(error instanceof IngestError)) return error;
  if (error.retryAfterMs !== undefined) {
    // Standard gRPC retry hint: how long the client should wait before retrying.
    context.trailer.set("grpc-retry-pushback-ms", String(error.retryAfterMs));
  }
  return new ServerError(STATUS_OF[error.code], error.message);
}

