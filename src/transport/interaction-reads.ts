/**
 * The read RPCs of InteractionService (GetInteraction, ListInteractions, WatchInteractions,
 * ListAccessAudit) over gRPC. Every read of interaction data is recorded in the access audit
 * first, with the caller's principal from authentication; QueryErrors become statuses in the
 * error middleware.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { CallContext } from "nice-grpc-common";
import type { Pool } from "pg";
import type { ListAccessAuditRequest } from "../../gen/coordinator/v1/access_audit_pb.js";
import {
  GetInteractionRequestSchema,
  ListInteractionsRequestSchema,
  WatchInteractionsRequestSchema,
  type GetInteractionRequest,
  type ListInteractionsRequest,
  type WatchInteractionsRequest,
} from "../../gen/coordinator/v1/interaction_query_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { listAccessAudit, recordAccess } from "../interactions/read/access-audit.js";
import { getInteraction, listInteractions } from "../interactions/read/interaction-reads.js";
import type { EventTail } from "../interactions/watch/event-tail.js";
import { watchFilter } from "../interactions/watch/watch-filter.js";
import type { AuthContext } from "./auth-middleware.js";

type Context = CallContext & AuthContext;

const METHOD = (name: string) => `/${InteractionService.typeName}/${name}`;

/** The response header WatchInteractions sends once its stream is live (value "live"). */
export const LIVE_HEADER = "mcpc-tail";

/**
 * The read handlers, for interactionService's `extra`.
 *
 * @param tail - this replica's live tail (WatchInteractions).
 */
export function interactionReadHandlers(pool: Pool, tail: EventTail) {
  /** Records the read in the access audit (see access-audit.ts). */
  const audit = <S extends DescMessage>(name: string, schema: S, request: MessageShape<S>, context: Context) =>
    recordAccess(pool, { principal: context.principal.principal, role: context.principal.role, method: METHOD(name), schema, request, decrypted: false });

  return {
    async getInteraction(request: GetInteractionRequest, context: Context) {
      await audit("GetInteraction", GetInteractionRequestSchema, request, context);
      return getInteraction(pool, request);
    },

    async listInteractions(request: ListInteractionsRequest, context: Context) {
      await audit("ListInteractions", ListInteractionsRequestSchema, request, context);
      return listInteractions(pool, request);
    },

    // The response headers are the "live" signal: they go out as soon as every event stored from
    // then on is sure to reach this stream, before any event does. nice-grpc sends no empty
    // headers, and the entry also shows in grpcurl's output.
    async *watchInteractions(request: WatchInteractionsRequest, context: Context) {
      await audit("WatchInteractions", WatchInteractionsRequestSchema, request, context);
      yield* tail.watch(watchFilter(request), context.signal, () => {
        context.header.set(LIVE_HEADER, "live");
        context.sendHeader();
      });
    },

    async listAccessAudit(request: ListAccessAuditRequest) {
      return listAccessAudit(pool, request);
    },
  };
}

