/**
 * ListDecisions: newest first, filtered, with keyset pagination. The page token is opaque to
 * clients: it carries the last row's (created_at, id) and a hash of the filters, so a token used
 * with other filters is refused instead of returning a wrong page, and new decisions arriving
 * between pages never shift what the next page holds (no OFFSET).
 */
import { createHash } from "node:crypto";
import type { Pool } from "pg";
import type { Decision, DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import { listAnswers, type DecisionRow } from "./decision-queries.js";
import { answersByDecision, toDecision } from "./decision-mapping.js";
import { InvalidFieldError } from "./errors.js";

/** The filters and paging of one ListDecisions call. */
export interface ListQuery {
  pageSize: number;
  pageToken: string;
  workflowId: string;
  statuses: readonly DecisionStatus[];
  assignee: string;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

/** One page of decisions and the token of the next (empty on the last page). */
export async function listDecisions(pool: Pool, query: ListQuery): Promise<{ decisions: Decision[]; nextPageToken: string }> {
  if (query.pageSize < 0) throw new InvalidFieldError("page_size", `must be 0 or more; got ${query.pageSize}`);
  const size = Math.min(query.pageSize || DEFAULT_PAGE, MAX_PAGE);
  const filterHash = hashFilters(query);
  const after = query.pageToken ? readToken(query.pageToken, filterHash) : undefined;
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
    [query.workflowId, query.statuses, query.assignee, after?.createdAt ?? null, after?.id ?? null, size + 1],
  );
  const page = rows.slice(0, size);
  const answersOf = answersByDecision(await listAnswers(pool, page.map((r) => r.id)));
  const decisions = page.map((row) => toDecision(row, answersOf(row.id), "without-contents"));
  const last = page.at(-1);
  const nextPageToken = rows.length > size && last ? writeToken({ createdAt: last.created_at_text, id: last.id, filters: filterHash }) : "";
  return { decisions, nextPageToken };
}

/** How Postgres prints a timestamptz: "2026-11-22 03:59:12.123456+00". */
const POSTGRES_TIMESTAMPTZ = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

interface Token {
  /** created_at as Postgres prints it (microseconds kept: a JS Date would round them off). */
  createdAt: string;
  id: string;
  filters: string;
}

function hashFilters(query: ListQuery): string {
  const canonical = JSON.stringify([query.workflowId, [...query.statuses].sort(), query.assignee]);
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 16);
}

function writeToken(token: Token): string {
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function readToken(raw: string, filters: string): Token {
  let token: Partial<Token>;
  try {
    token = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Partial<Token>;
  } catch {
    throw new InvalidFieldError("page_token", "is not a token this server issued");
  }
  if (typeof token.createdAt !== "string" || typeof token.id !== "string" || !POSTGRES_TIMESTAMPTZ.test(token.createdAt)) {
    throw new InvalidFieldError("page_token", "is not a token this server issued");
  }
  if (!/^[0-9a-f-]{36}$/.test(token.id)) throw new InvalidFieldError("page_token", "is not a token this server issued");
  if (token.filters !== filters) throw new InvalidFieldError("page_token", "was issued for other filters; start again without a token");
  return token as Token;
}
