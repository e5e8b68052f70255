/**
 * The read RPCs of InteractionService (GetInteraction, ListInteractions, GetPerformanceMetrics,
 * RankMcps, WatchInteractions, ListAccessAudit) over gRPC. Every read of interaction data is
 * recorded in the access audit, with the caller's principal from authentication, before its
 * answer leaves; QueryErrors become statuses in the error middleware.
 */
import { clone, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { CallContext } from "nice-grpc-common";
import type { Pool } from "pg";
import type { ListAccessAuditRequest } from "../../gen/coordinator/v1/access_audit_pb.js";
import {
  GetInteractionRequestSchema,
  ListInteractionsRequestSchema,
  WatchInteractionsRequestSchema,
  WatchInteractionsResponseSchema,
  type GetInteractionRequest,
  type ListInteractionsRequest,
  type WatchInteractionsRequest,
} from "../../gen/coordinator/v1/interaction_query_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { GetPerformanceMetricsRequestSchema, type GetPerformanceMetricsRequest } from "../../gen/coordinator/v1/performance_metrics_pb.js";
import { RankMcpsRequestSchema, type RankMcpsRequest } from "../../gen/coordinator/v1/mcp_ranking_pb.js";
import { mayDecrypt } from "../auth/permissions.js";
import { getPerformanceMetrics } from "../interactions/metrics/performance-metrics.js";
import { rankMcps, type RankingContext } from "../interactions/ranking/mcp-ranking.js";
import { listAccessAudit, recordAccess } from "../interactions/read/access-audit.js";
import { getInteraction, listInteractions, type ReaderView } from "../interactions/read/interaction-reads.js";
import type { Privacy } from "../interactions/privacy/privacy.js";
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
 * @param privacy - reveals stored events to each reader (decrypted for admins only).
 * @param tail - this replica's live tail (WatchInteractions).
 * @param ranking - what RankMcps needs besides the pool.
 */
export function interactionReadHandlers(pool: Pool, privacy: Privacy, tail: EventTail, ranking: RankingContext) {
  /**
   * Runs a read and records it in the access audit (see access-audit.ts). The row is written
   * after the read and before its answer is sent, so it can say whether encrypted values went
   * out decrypted (the table is append-only: the row cannot be corrected later). A refused read
   * is recorded too; when the row cannot be written, the answer is not sent.
   */
  const audited = async <S extends DescMessage, R extends { decrypted: boolean }>(
    name: string,
    schema: S,
    request: MessageShape<S>,
    context: Context,
    read: (view: ReaderView) => Promise<R>,
  ): Promise<Omit<R, "decrypted">> => {
    const { principal, role } = context.principal;
    const record = (decrypted: boolean) => recordAccess(pool, { principal, role, method: METHOD(name), schema, request, decrypted });
    let result: R;
    try {
      result = await read({ privacy, canDecrypt: mayDecrypt(role) });
    } catch (error) {
      await record(false);
      throw error;
    }
    await record(result.decrypted);
    const { decrypted: _, ...response } = result;
    return response;
  };

  return {
    async getInteraction(request: GetInteractionRequest, context: Context) {
      return audited("GetInteraction", GetInteractionRequestSchema, request, context, (view) => getInteraction(pool, request, view));
    },

    async listInteractions(request: ListInteractionsRequest, context: Context) {
      return audited("ListInteractions", ListInteractionsRequestSchema, request, context, (view) => listInteractions(pool, request, view));
    },

    // Aggregates only: nothing encrypted goes out.
    async getPerformanceMetrics(request: GetPerformanceMetricsRequest, context: Context) {
      return audited("GetPerformanceMetrics", GetPerformanceMetricsRequestSchema, request, context, async () => ({
        ...(await getPerformanceMetrics(pool, request)),
        decrypted: false,
      }));
    },

    async rankMcps(request: RankMcpsRequest, context: Context) {
      return audited("RankMcps", RankMcpsRequestSchema, request, context, async () => ({ ...(await rankMcps(pool, request, ranking)), decrypted: false }));
    },

    // The response headers are the "live" signal: they go out as soon as every event stored from
    // then on is sure to reach this stream, before any event does. nice-grpc sends no empty
    // headers, and the entry also shows in grpcurl's output.
    async *watchInteractions(request: WatchInteractionsRequest, context: Context) {
      const { principal, role } = context.principal;
      const canDecrypt = mayDecrypt(role);
      // Why decrypted = the right to decrypt: the row is written before any event is known (the
      // audit is append-only), and an admin's tail returns encrypted values decrypted.
      await recordAccess(pool, { principal, role, method: METHOD("WatchInteractions"), schema: WatchInteractionsRequestSchema, request, decrypted: canDecrypt });
      const live = tail.watch(watchFilter(request), context.signal, () => {
        context.header.set(LIVE_HEADER, "live");
        context.sendHeader();
      });
      for await (const shared of live) {
        // The tail builds each message once for all its watchers: reveal a copy for this reader.
        const mine = clone(WatchInteractionsResponseSchema, shared);
        if (mine.event?.event) privacy.revealFields(mine.event.event, canDecrypt);
        yield mine;
      }
    },

    async listAccessAudit(request: ListAccessAuditRequest) {
      return listAccessAudit(pool, request);
    },
  };
}
