/**
 * The access audit: a row for every read of interaction data (who, when, which method, with which
 * request), and ListAccessAudit to read it back.
 */
import { create, toJson, type DescMessage, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Pool } from "pg";
import { pageSizeOf } from "../../store/page-size.js";
import { AccessAuditEntrySchema, type AccessAuditEntry, type ListAccessAuditRequest } from "../../../gen/coordinator/v1/access_audit_pb.js";
import { decodeKeysetToken, encodeKeysetToken, POSTGRES_TIMESTAMPTZ } from "../../store/keyset-token.js";
import { timeBounds } from "./interaction-reads.js";
import { invalidField } from "./query-error.js";

/** Who read, through which method, and what they asked. */
export interface AccessRecord<S extends DescMessage> {
  principal: string;
  role: string;
  /** The full gRPC method name: "/coordinator.v1.InteractionService/ListInteractions". */
  method: string;
  schema: S;
  request: MessageShape<S>;
  /** Whether encrypted fields were returned decrypted. */
  decrypted: boolean;
}

/**
 * Appends one audit row: for a read that was refused too, and always before the read's answer is
 * sent (a read whose row cannot be written is not answered).
 */
export async function recordAccess<S extends DescMessage>(pool: Pool, record: AccessRecord<S>): Promise<void> {
  // Why a plain INSERT per read: reads are rare next to ingest, and one row per read (refused or
  // not) is the whole contract.
  await pool.query("INSERT INTO access_audit (principal, role, method, request, decrypted) VALUES ($1, $2, $3, $4, $5)", [
    record.principal,
    record.role,
    record.method,
    JSON.stringify(toJson(record.schema, record.request)),
    record.decrypted,
  ]);
}

interface AuditRow {
  id: string;
  at: Date;
  at_text: string;
  principal: string;
  role: string;
  method: string;
  request: JsonObject;
  decrypted: boolean;
}

/**
 * One page of audit rows, newest first.
 *
 * @throws QueryError invalid_argument naming "page_size", "time_range" or "page_token".
 */
export async function listAccessAudit(pool: Pool, request: ListAccessAuditRequest): Promise<{ entries: AccessAuditEntry[]; nextPageToken: string }> {
  const size = pageSizeOf(request.pageSize, (problem) => invalidField("page_size", problem));
  const { from, to } = timeBounds(request.timeRange);
  const filters = [request.principal, request.method, from?.toISOString() ?? "", to?.toISOString() ?? ""];
  let after: string[] | undefined;
  if (request.pageToken) {
    const position = decodeKeysetToken(request.pageToken, filters, [POSTGRES_TIMESTAMPTZ, /^\d{1,19}$/]);
    if (typeof position === "string") throw invalidField("page_token", position);
    after = position;
  }
  // Why optional filters in one statement: each `$n = ''` / `IS NULL` folds away per call, and the
  // (at, id) row comparison walks access_audit_at_idx (or the principal index) in order.
  const { rows } = await pool.query<AuditRow>(
    `SELECT id::text, at, at::text AS at_text, principal, role, method, request, decrypted FROM access_audit
     WHERE ($1 = '' OR principal = $1)
       AND ($2 = '' OR method = $2)
       AND ($3::timestamptz IS NULL OR at >= $3)
       AND ($4::timestamptz IS NULL OR at < $4)
       AND ($5::timestamptz IS NULL OR (at, id) < ($5::timestamptz, $6::bigint))
     ORDER BY at DESC, id DESC
     LIMIT $7`,
    [request.principal, request.method, from ?? null, to ?? null, after?.[0] ?? null, after?.[1] ?? null, size + 1],
  );
  const page = rows.slice(0, size);
  const last = page.at(-1);
  return {
    entries: page.map((row) =>
      create(AccessAuditEntrySchema, {
        id: BigInt(row.id),
        at: timestampFromDate(row.at),
        principal: row.principal,
        role: row.role,
        method: row.method,
        request: row.request,
        decrypted: row.decrypted,
      }),
    ),
    nextPageToken: rows.length > size && last ? encodeKeysetToken([last.at_text, last.id], filters) : "",
  };
}
