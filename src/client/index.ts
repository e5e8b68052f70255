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
