/**
 * The read RPCs of InteractionService (GetInteraction, ListInteractions, GetPerformanceMetrics,
 * RankMcps, ListAccessAudit) over gRPC. Every read of interaction data is recorded in the access
 * audit, with the caller's principal from authentication, before its answer leaves; QueryErrors
 * become statuses in the error middleware.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { CallContext } from "nice-grpc-common";
import type { Pool } from "pg";
import type { ListAccessAuditRequest } from "../../gen/coordinator/v1/access_audit_pb.js";
import {
  GetInteractionRequestSchema,
  ListInteractionsRequestSchema,
  type GetInteractionRequest,
  type ListInteractionsRequest,
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
import type { AuthContext } from "./auth-middleware.js";

type Context = CallContext & AuthContext;

const METHOD = (name: string) => `/${InteractionService.typeName}/${name}`;

/** The read handlers, for interactionService's `extra`. */
export function interactionReadHandlers(pool: Pool, privacy: Privacy, ranking: RankingContext) {
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

    async listAccessAudit(request: ListAccessAuditRequest) {
      return listAccessAudit(pool, request);
    },
  };
}
