/**
 * GetPerformanceMetrics: a checked request in, the figures out, read from the rollups in one
 * consistent snapshot.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Pool } from "pg";
import {
  ErrorCodeCountSchema,
  GetPerformanceMetricsResponseSchema,
  McpPerformanceSchema,
  PerformanceSummarySchema,
  ProcessingTimeStatsSchema,
  ThroughputPointSchema,
  type GetPerformanceMetricsRequest,
  type GetPerformanceMetricsResponse,
  type PerformanceSummary,
} from "../../../gen/coordinator/v1/performance_metrics_pb.js";
import { MCP_ID_PATTERN } from "../../mcp-id.js";
import { withTransaction } from "../../store/transaction.js";
import { invalidField } from "../read/query-error.js";
import { durationFromFractionalMs } from "./duration.js";
import { hourlyCounts, summaries, topErrorCodes, type SummaryRow } from "./metrics-queries.js";
import { hourlyPieces, hoursOf, periodOf, summaryPieces } from "./metrics-period.js";

const DEFAULT_ERROR_CODES = 10;
const MAX_ERROR_CODES = 100;

/**
 * The performance figures a request asks for.
 *
 * @throws QueryError invalid_argument naming "mcp_id", "window", "time_range" or
 *   "top_error_codes_limit".
 */
export async function getPerformanceMetrics(pool: Pool, request: GetPerformanceMetricsRequest, now = new Date()): Promise<GetPerformanceMetricsResponse> {
  if (request.mcpId && !MCP_ID_PATTERN.test(request.mcpId)) throw invalidField("mcp_id", "is not a valid MCP id");
  const limit = request.topErrorCodesLimit;
  if (limit < 0 || limit > MAX_ERROR_CODES) throw invalidField("top_error_codes_limit", `must be 0 to ${MAX_ERROR_CODES}; got ${limit}`);
  const period = periodOf(request, now);
  // Why one read-only snapshot: the summary, the series and the error codes must add up even
  // while the rollup job commits between the three statements.
  const [rows, hours, errors] = await withTransaction(
    pool,
    async (client) => [
      await summaries(client, summaryPieces(period), request.mcpId),
      await hourlyCounts(client, hourlyPieces(period), request.mcpId),
      await topErrorCodes(client, summaryPieces(period), request.mcpId, limit || DEFAULT_ERROR_CODES),
    ] as const,
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
  );
  // For one MCP, its own row is the whole.
  const all = request.mcpId ? rows.find((row) => row.mcp_id === request.mcpId) : rows.find((row) => row.mcp_id === null);
  const perMcp = rows
    .filter((row): row is SummaryRow & { mcp_id: string } => row.mcp_id !== null)
    .sort((a, b) => Number(b.finished) - Number(a.finished) || (a.mcp_id < b.mcp_id ? -1 : a.mcp_id > b.mcp_id ? 1 : 0));
  const byHour = new Map(hours.map((row) => [row.hour.getTime(), row]));
  return create(GetPerformanceMetricsResponseSchema, {
    startTime: timestampFromDate(period.start),
    endTime: timestampFromDate(period.end),
    summary: toSummary(all),
    throughput: hoursOf(period).map((hour) => {
      const row = byHour.get(hour.getTime());
      const finished = BigInt(row?.finished ?? 0);
      const succeeded = BigInt(row?.succeeded ?? 0);
      return create(ThroughputPointSchema, { bucketStart: timestampFromDate(hour), count: finished, successCount: succeeded, failureCount: finished - succeeded });
    }),
    perMcp:
      perMcp.length === 0 && request.mcpId
        ? [create(McpPerformanceSchema, { mcpId: request.mcpId, summary: toSummary(undefined) })]
        : perMcp.map((row) => create(McpPerformanceSchema, { mcpId: row.mcp_id, summary: toSummary(row) })),
    topErrorCodes: errors.map((row) => create(ErrorCodeCountSchema, { errorCode: row.error_code, count: BigInt(row.failed), lastSeenAt: timestampFromDate(row.last_at) })),
  });
}

/** A summary row (absent: nothing finished) as PerformanceSummary. */
export function toSummary(row: SummaryRow | undefined): PerformanceSummary {
  const count = BigInt(row?.finished ?? 0);
  const success = BigInt(row?.succeeded ?? 0);
  const samples = Number(row?.samples ?? 0);
  const rate = (n: bigint) => (count === 0n ? 0 : Number(n) / Number(count));
  return create(PerformanceSummarySchema, {
    count,
    successCount: success,
    failureCount: count - success,
    successRate: rate(success),
    errorRate: rate(count - success),
    processingTime:
      row && samples > 0
        ? create(ProcessingTimeStatsSchema, {
            samples: BigInt(samples),
            avg: durationFromFractionalMs(row.sum_ms / samples),
            min: durationFromFractionalMs(row.min_ms ?? 0),
            max: durationFromFractionalMs(row.max_ms ?? 0),
            p50: durationFromFractionalMs(row.p50_ms ?? 0),
            p95: durationFromFractionalMs(row.p95_ms ?? 0),
            p99: durationFromFractionalMs(row.p99_ms ?? 0),
          })
        : create(ProcessingTimeStatsSchema, {}),
  });
}
