/**
 * The read RPCs of InteractionService (GetInteraction, ListInteractions, GetPerformanceMetrics,
 * RankMcps, ListAccessAudit) over gRPC. Every read of interaction data is recorded in the access audit first, with the caller's
 * principal from authentication; QueryErrors become statuses in the error middleware.
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
import { getPerformanceMetrics } from "../interactions/metrics/performance-metrics.js";
import { rankMcps, type RankingContext } from "../interactions/ranking/mcp-ranking.js";
import { listAccessAudit, recordAccess } from "../interactions/read/access-audit.js";
import { getInteraction, listInteractions } from "../interactions/read/interaction-reads.js";
import type { AuthContext } from "./auth-middleware.js";

type Context = CallContext & AuthContext;

const METHOD = (name: string) => `/${InteractionService.typeName}/${name}`;

/** The read handlers, for interactionService's `extra`. */
export function interactionReadHandlers(pool: Pool, ranking: RankingContext) {
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

    async getPerformanceMetrics(request: GetPerformanceMetricsRequest, context: Context) {
      await audit("GetPerformanceMetrics", GetPerformanceMetricsRequestSchema, request, context);
      return getPerformanceMetrics(pool, request);
    },

    async rankMcps(request: RankMcpsRequest, context: Context) {
      await audit("RankMcps", RankMcpsRequestSchema, request, context);
      return rankMcps(pool, request, ranking);
    },

    async listAccessAudit(request: ListAccessAuditRequest) {
      return listAccessAudit(pool, request);
    },
  };
}

