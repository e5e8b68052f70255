/**
 * GetDecisionStatistics: counts by status and answer-time percentiles, overall and per workflow,
 * computed in Postgres (percentile_cont over resolved_at - created_at of COMPLETED decisions).
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Pool } from "pg";
import { DecisionStatisticsSchema, WorkflowDecisionStatisticsSchema, type DecisionStatistics, type WorkflowDecisionStatistics } from "../../gen/coordinator/v1/decision_statistics_pb.js";
import { InvalidFieldError } from "./errors.js";

/** The selection: one workflow (or all), created within [start, end) when given. */
export interface StatisticsQuery {
  workflowId: string;
  start: Timestamp | undefined;
  end: Timestamp | undefined;
}

interface StatsRow {
  workflow_id: string | null;
  total: string;
  pending: string;
  completed: string;
  expired: string;
  cancelled: string;
  accepted: string;
  declined: string;
  defaulted: string;
  median_ms: number | null;
  p95_ms: number | null;
}

/** The statistics, overall and per workflow (at most 1,000 workflows, largest first). */
export async function decisionStatistics(pool: Pool, query: StatisticsQuery): Promise<{ overall: DecisionStatistics; perWorkflow: WorkflowDecisionStatistics[] }> {
  const start = query.start ? new Date(timestampMs(query.start)) : null;
  const end = query.end ? new Date(timestampMs(query.end)) : null;
  if (start && end && start.getTime() > end.getTime()) throw new InvalidFieldError("time_range", "start is after end");
  // Why GROUPING SETS: the overall row and the per-workflow rows in one scan.
  const { rows } = await pool.query<StatsRow>(
    `SELECT workflow_id,
       count(*) AS total,
       count(*) FILTER (WHERE status = 1) AS pending,
       count(*) FILTER (WHERE status = 2) AS completed,
       count(*) FILTER (WHERE status = 3) AS expired,
       count(*) FILTER (WHERE status = 4) AS cancelled,
       count(*) FILTER (WHERE status = 2 AND outcome_action = 1) AS accepted,
       count(*) FILTER (WHERE status = 2 AND outcome_action = 2) AS declined,
       count(*) FILTER (WHERE status = 3 AND defaulted) AS defaulted,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at) * 1000) FILTER (WHERE status = 2) AS median_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at) * 1000) FILTER (WHERE status = 2) AS p95_ms
     FROM decisions
     WHERE ($1 = '' OR workflow_id = $1)
       AND ($2::timestamptz IS NULL OR created_at >= $2)
       AND ($3::timestamptz IS NULL OR created_at < $3)
     GROUP BY GROUPING SETS ((), (workflow_id))`,
    [query.workflowId, start, end],
  );
  const overallRow = rows.find((r) => r.workflow_id === null);
  const perWorkflow = rows
    .filter((r) => r.workflow_id !== null)
    .sort((a, b) => Number(b.total) - Number(a.total) || a.workflow_id!.localeCompare(b.workflow_id!))
    .slice(0, 1_000)
    .map((r) => create(WorkflowDecisionStatisticsSchema, { workflowId: r.workflow_id!, statistics: toStatistics(r) }));
  return { overall: overallRow ? toStatistics(overallRow) : create(DecisionStatisticsSchema), perWorkflow };
}

function toStatistics(row: StatsRow): DecisionStatistics {
  return create(DecisionStatisticsSchema, {
    total: BigInt(row.total),
    pending: BigInt(row.pending),
    completed: BigInt(row.completed),
    expired: BigInt(row.expired),
    cancelled: BigInt(row.cancelled),
    accepted: BigInt(row.accepted),
    declined: BigInt(row.declined),
    defaulted: BigInt(row.defaulted),
    medianTimeToAnswer: row.median_ms === null ? undefined : durationFromMs(Math.round(row.median_ms)),
    p95TimeToAnswer: row.p95_ms === null ? undefined : durationFromMs(Math.round(row.p95_ms)),
  });
}
