/**
 * HumanLoopService over gRPC: hands requests to the human-loop domain with the caller's principal
 * (never one from the request body); DecisionErrors become statuses in the error middleware.
 * Methods not built yet answer UNIMPLEMENTED naming what is missing.
 */
import { ServerError, Status, type CallContext } from "nice-grpc-common";
import type {
  CancelDecisionRequest,
  CreateDecisionRequest,
  ExtendDeadlineRequest,
  RespondRequest,
} from "../../gen/coordinator/v1/decision_commands_pb.js";
import type { GetDecisionRequest, ListDecisionsRequest, WatchDecisionsRequest } from "../../gen/coordinator/v1/decision_queries_pb.js";
import type { GetDecisionStatisticsRequest } from "../../gen/coordinator/v1/decision_statistics_pb.js";
import { listDecisions } from "../humanloop/decision-list.js";
import { decisionStatistics } from "../humanloop/decision-statistics.js";
import { decisionTemplates } from "../humanloop/templates.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import type { HumanLoop } from "../humanloop/human-loop.js";
import type { AuthContext } from "./auth-middleware.js";
import { unimplementedHandlers } from "./unimplemented.js";

type Context = CallContext & AuthContext;

/**
 * The HumanLoopService implementation.
 *
 * @param humanLoop - the domain (store and streams).
 */
export function humanLoopService(humanLoop: HumanLoop) {
  const { store, streams, pool } = humanLoop;
  return {
    ...unimplementedHandlers(HumanLoopService, () => "a later step of the human-in-the-loop work (issue #4)"),

    async createDecision(request: CreateDecisionRequest, { principal }: Context) {
      return store.create(request, principal);
    },

    async getDecision(request: GetDecisionRequest) {
      const decision = await store.get(request.decisionId);
      return { decision, audit: request.includeAudit ? await store.audit(request.decisionId) : [] };
    },

    async listDecisions(request: ListDecisionsRequest) {
      return listDecisions(pool, request);
    },

    async getDecisionStatistics(request: GetDecisionStatisticsRequest) {
      return decisionStatistics(pool, { workflowId: request.workflowId, start: request.timeRange?.startTime, end: request.timeRange?.endTime });
    },

    async listTemplates() {
      return { templates: decisionTemplates() };
    },

    async respond(request: RespondRequest, { principal }: Context) {
      return { decision: await store.respond(request.decisionId, request.response, request.responseKey, principal) };
    },

    async cancelDecision(request: CancelDecisionRequest, { principal }: Context) {
      return { decision: await store.cancel(request.decisionId, request.reason, principal) };
    },

    async extendDeadline(request: ExtendDeadlineRequest, { principal }: Context) {
      return { decision: await store.extend(request, principal) };
    },

    // Never called: AwaitDecision is answered by await-interceptor.ts before it reaches nice-grpc.
    async *awaitDecision(): AsyncGenerator<never> {
      throw new ServerError(Status.INTERNAL, "AwaitDecision is served by the await interceptor; this handler should not run");
    },

    async *watchDecisions(request: WatchDecisionsRequest, context: Context) {
      const filter = { statuses: request.statuses, workflowId: request.workflowId, assignee: request.assignee };
      for await (const decision of streams.watch(request.afterRevision, filter, context.signal)) {
        yield { decision, revision: decision.revision };
      }
    },
  };
}
