/**
 * Which role may call which RPC: the one table the auth gate (transport/auth-middleware.ts) consults.
 *
 * admin may call everything. A method missing from this table is refused for every other role
 * (a test checks that every method of both services is listed, so a new RPC cannot be forgotten).
 */
import type { Role } from "./api-key.js";

const INTERACTION = "coordinator.v1.InteractionService";
const HUMAN_LOOP = "coordinator.v1.HumanLoopService";

/** Roles other than admin allowed per method, keyed by full method name `package.Service/Method`. */
export const METHOD_ROLES: Readonly<Record<string, readonly Role[]>> = {
  // MCPs write their own events and registration.
  [`${INTERACTION}/StreamInteractions`]: ["mcp"],
  [`${INTERACTION}/ReportInteractions`]: ["mcp"],
  [`${INTERACTION}/RegisterMcp`]: ["mcp"],
  // Reading interaction data: operators (people) and workflows that route work by it.
  [`${INTERACTION}/ListMcps`]: ["operator", "workflow"],
  [`${INTERACTION}/GetInteraction`]: ["operator"],
  [`${INTERACTION}/ListInteractions`]: ["operator"],
  [`${INTERACTION}/GetPerformanceMetrics`]: ["operator", "workflow"],
  [`${INTERACTION}/WatchInteractions`]: ["operator"],
  [`${INTERACTION}/GetStats`]: ["operator"],
  [`${INTERACTION}/RankMcps`]: ["operator", "workflow"],
  // Who read which interaction data: for admins only.
  [`${INTERACTION}/ListAccessAudit`]: [],
  // Workflows ask; operators answer; both can look.
  [`${HUMAN_LOOP}/CreateDecision`]: ["workflow"],
  [`${HUMAN_LOOP}/AwaitDecision`]: ["workflow", "operator"],
  [`${HUMAN_LOOP}/GetDecision`]: ["workflow", "operator"],
  [`${HUMAN_LOOP}/ListDecisions`]: ["workflow", "operator"],
  [`${HUMAN_LOOP}/CancelDecision`]: ["workflow", "operator"],
  [`${HUMAN_LOOP}/ExtendDeadline`]: ["workflow", "operator"],
  [`${HUMAN_LOOP}/GetDecisionStatistics`]: ["workflow", "operator"],
  [`${HUMAN_LOOP}/ListTemplates`]: ["workflow", "operator"],
  [`${HUMAN_LOOP}/WatchDecisions`]: ["operator"],
  [`${HUMAN_LOOP}/Respond`]: ["operator"],
};

/**
 * Whether `role` may call `method`.
 *
 * @param method - full method name, `package.Service/Method` (no leading slash).
 */
export function mayCall(role: Role, method: string): boolean {
  return role === "admin" || (METHOD_ROLES[method]?.includes(role) ?? false);
}

/** Roles that may call `method`, for error messages. */
export function rolesFor(method: string): Role[] {
  return [...(METHOD_ROLES[method] ?? []), "admin"];
}

/**
 * Whether `role` may read encrypted interaction fields in clear (the privacy policy's "encrypt"
 * action). Only admins; other readers get `enc:<key id>` in place of each encrypted value.
 */
export function mayDecrypt(role: Role): boolean {
  return role === "admin";
}
