/**
 * The reporter client: what an MCP embeds to report its interactions to the coordinator.
 *
 * ```ts
 * const reporter = createReporter({ address: "coordinator:50051", apiKey: process.env.MCPC_KEY! });
 * const result = await reporter.track(requestId, () => handle(request), { started: { requestType: "translate" } });
 * await reporter.close();
 * ```
 */
export { createReporter } from "./reporter.js";
export type { Reporter, ReportReceipt, ReporterStats, TrackOptions } from "./types.js";
export { ReporterOptionsError, type BackoffOptions, type ReporterOptions } from "./options.js";
export type { ReporterLogger } from "./logger.js";
export type { CommonDetail, CompletedDetail, FailedDetail, ProgressDetail, StartedDetail } from "./event-builder.js";
export type { ConnectedInfo, DisconnectedInfo, DrainInfo, RejectedInfo, ReporterEventMap } from "./events.js";
export { uuidv7 } from "./uuidv7.js";

/**
 * The human-loop client: what a workflow embeds to ask humans and wait for their answer.
 *
 * ```ts
 * const humanLoop = createHumanLoop({ address: "coordinator:50051", apiKey: process.env.MCPC_KEY! });
 * const outcome = await humanLoop.requestDecision({ requestKey: "deploy-42/approve", workflowId: "deploy",
 *   title: "Deploy?", spec: { kind: { case: "confirmation", value: {} } } });
 * ```
 */
export { createHumanLoop, isFinal, toOutcome } from "./human-loop.js";
export type {
  DecisionOutcome,
  DecisionPage,
  DecisionRequestInit,
  DecisionResponseInit,
  HumanLoop,
  CallOptions,
  HumanLoopOptions,
  ListOptions,
  RequestDecisionOptions,
  RespondOptions,
  StatusFilter,
  WatchOptions,
} from "./human-loop-types.js";
export { DecisionStatus, type Decision, type DecisionAnswer } from "../../gen/coordinator/v1/decision_pb.js";
export { ResponseAction, type DecisionResponse } from "../../gen/coordinator/v1/decision_response_pb.js";
export { FieldType } from "../../gen/coordinator/v1/decision_spec_pb.js";
export { TimeoutPolicy } from "../../gen/coordinator/v1/decision_policy_pb.js";
