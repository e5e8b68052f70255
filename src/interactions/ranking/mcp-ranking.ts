/**
 * RankMcps, the seeds' SmartRouter first step: which connected MCP offering a capability to send
 * work to next, by a score whose parts are returned (the formula is documented on McpRanking in
 * proto/coordinator/v1/mcp_ranking.proto; this file implements exactly that).
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import type { Pool } from "pg";
import { McpRankingSchema, RankingWeightsSchema, RankMcpsResponseSchema, type McpRanking, type RankMcpsRequest, type RankMcpsResponse } from "../../../gen/coordinator/v1/mcp_ranking_pb.js";
import { withTransaction } from "../../store/transaction.js";
import { durationFromFractionalMs } from "../metrics/duration.js";
import { summaryPieces } from "../metrics/metrics-period.js";
import { summaries } from "../metrics/metrics-queries.js";
import { invalidField } from "../read/query-error.js";
import { selectCandidates } from "./ranking-queries.js";

const MINUTE = 60_000;
const DEFAULT_WINDOW_MS = 60 * MINUTE;
const MAX_WINDOW_MS = 30 * 24 * 60 * MINUTE;
const MAX_CANDIDATES = 1_000;
const CAPABILITY_MAX = 128;
/** RoutingConfig.max_concurrency when an MCP leaves it 0 (registry.proto). */
const DEFAULT_MAX_CONCURRENCY = 100;

/** The weights of the score's parts; they sum to 1. */
export interface RankingWeights {
  success: number;
  latency: number;
  load: number;
}

/** The contract's defaults. */
export const DEFAULT_RANKING_WEIGHTS: RankingWeights = { success: 0.5, latency: 0.3, load: 0.2 };

/** What ranking needs besides the pool. */
export interface RankingContext {
  /** A replica silent for this long holds no connections (the registry's rule). */
  staleAfterMs: number;
  weights?: RankingWeights;
}

/**
 * Ranks the MCPs offering `request.capability`.
 *
 * @throws QueryError invalid_argument naming "capability", "window" or "limit".
 */
export async function rankMcps(pool: Pool, request: RankMcpsRequest, context: RankingContext, now = new Date()): Promise<RankMcpsResponse> {
  const weights = context.weights ?? DEFAULT_RANKING_WEIGHTS;
  if (!request.capability) throw invalidField("capability", "is required");
  if ([...request.capability].length > CAPABILITY_MAX) throw invalidField("capability", `must be at most ${CAPABILITY_MAX} characters`);
  const windowMs = request.window ? durationMs(request.window) : DEFAULT_WINDOW_MS;
  if (windowMs < MINUTE || windowMs > MAX_WINDOW_MS) throw invalidField("window", "must be between 1 minute and 30 days");
  if (request.limit < 0) throw invalidField("limit", `must be 0 or more; got ${request.limit}`);

  // The window's figures come from the rollups: whole minutes, ending with the current one.
  const end = Math.floor(now.getTime() / MINUTE) * MINUTE + MINUTE;
  const period = { start: new Date(Math.floor((end - windowMs) / MINUTE) * MINUTE), end: new Date(end) };
  const { candidates, figures } = await withTransaction(
    pool,
    async (client) => {
      const candidates = await selectCandidates(client, {
        capability: request.capability,
        includeDisconnected: request.includeDisconnected,
        windowMs,
        staleAfterMs: context.staleAfterMs,
        limit: MAX_CANDIDATES,
      });
      const ids = candidates.map((c) => c.mcp_id);
      const figures = ids.length ? await summaries(client, summaryPieces(period), "", ids) : [];
      return { candidates, figures };
    },
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
  );

  const byMcp = new Map(figures.filter((f) => f.mcp_id !== null).map((f) => [f.mcp_id!, f]));
  const p95s = candidates.map((c) => byMcp.get(c.mcp_id)?.p95_ms).filter((p): p is number => p !== null && p !== undefined);
  const medianP95 = Math.max(1, median(p95s) ?? 1);
  const rankings = candidates.map((candidate) => {
    const f = byMcp.get(candidate.mcp_id);
    const finished = Number(f?.finished ?? 0);
    const succeeded = Number(f?.succeeded ?? 0);
    const p95 = f?.p95_ms ?? null;
    const maxConcurrency = candidate.routing_max_concurrency || DEFAULT_MAX_CONCURRENCY;
    const active = Number(candidate.active);
    const load = Math.min(1, active / maxConcurrency);
    const successScore = (succeeded + 1) / (finished + 2);
    const latencyScore = p95 === null ? 0.5 : medianP95 / (medianP95 + p95);
    const loadScore = 1 - load;
    return create(McpRankingSchema, {
      mcpId: candidate.mcp_id,
      name: candidate.name,
      score: candidate.routing_weight * (weights.success * successScore + weights.latency * latencyScore + weights.load * loadScore),
      finished: BigInt(finished),
      successRate: finished ? succeeded / finished : 0,
      successScore,
      p95ProcessingTime: p95 === null ? undefined : durationFromFractionalMs(p95),
      latencyScore,
      activeInteractions: BigInt(active),
      maxConcurrency,
      load,
      loadScore,
      routingWeight: candidate.routing_weight,
      priority: candidate.routing_priority,
      connected: candidate.connected,
    });
  });
  rankings.sort(byRank);
  return create(RankMcpsResponseSchema, {
    rankings: request.limit ? rankings.slice(0, request.limit) : rankings,
    weights: create(RankingWeightsSchema, weights),
    window: durationFromMs(windowMs),
  });
}

/** Score descending, then priority descending, then mcp_id. */
function byRank(a: McpRanking, b: McpRanking): number {
  return b.score - a.score || b.priority - a.priority || (a.mcpId < b.mcpId ? -1 : a.mcpId > b.mcpId ? 1 : 0);
}

/** The median (the mean of the middle two for an even count); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
