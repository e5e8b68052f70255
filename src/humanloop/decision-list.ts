/**
 * ListDecisions: newest first, filtered, with keyset pagination on (created_at, id); see
 * store/keyset-token.ts for the page token.
 */
import type { Pool } from "pg";
import type { Decision, DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import { listAnswers, type DecisionRow } from "./decision-queries.js";
import { answersByDecision, toDecision } from "./decision-mapping.js";
import { InvalidFieldError } from "./errors.js";
import { decodeKeysetToken, encodeKeysetToken, POSTGRES_TIMESTAMPTZ } from "../store/keyset-token.js";
import { pageSizeOf } from "../store/page-size.js";

/** The filters and paging of one ListDecisions call. */
export interface ListQuery {
  pageSize: number;
  pageToken: string;
  workflowId: string;
  statuses: readonly DecisionStatus[];
  assignee: string;
}

/** One page of decisions and the token of the next (empty on the last page). */
export async function listDecisions(pool: Pool, query: ListQuery): Promise<{ decisions: Decision[]; nextPageToken: string }> {
  const size = pageSizeOf(query.pageSize, (problem) => new InvalidFieldError("page_size", problem));
  const filters = [query.workflowId, [...query.statuses].sort(), query.assignee];
  const after = query.pageToken ? readToken(query.pageToken, filters) : undefined;
  // Why one statement with optional filters: each `$n = '' OR ...` folds away per call, and the
  // (created_at, id) row comparison walks decisions_created_idx (or the workflow index) in order.
  const { rows } = await pool.query<DecisionRow & { created_at_text: string }>(
    `SELECT *, created_at::text AS created_at_text FROM decisions
     WHERE ($1 = '' OR workflow_id = $1)
       AND (cardinality($2::smallint[]) = 0 OR status = ANY($2::smallint[]))
       AND ($3 = '' OR assignees @> ARRAY[$3])
       AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::uuid))
     ORDER BY created_at DESC, id DESC
     LIMIT $6`,
    [query.workflowId, query.statuses, query.assignee, after?.[0] ?? null, after?.[1] ?? null, size + 1],
  );
  const page = rows.slice(0, size);
  const answersOf = answersByDecision(await listAnswers(pool, page.map((r) => r.id)));
  const decisions = page.map((row) => toDecision(row, answersOf(row.id), "without-contents"));
  const last = page.at(-1);
  const nextPageToken = rows.length > size && last ? encodeKeysetToken([last.created_at_text, last.id], filters) : "";
  return { decisions, nextPageToken };
}

/** A token's position: the last row's created_at (as Postgres prints it) and id. */
function readToken(raw: string, filters: unknown): string[] {
  const position = decodeKeysetToken(raw, filters, [POSTGRES_TIMESTAMPTZ, /^[0-9a-f-]{36}$/]);
  if (typeof position === "string") throw new InvalidFieldError("page_token", position);
  return position;
}
