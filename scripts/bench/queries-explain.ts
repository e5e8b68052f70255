/**
 * EXPLAIN ANALYZE of the SQL behind a read RPC, for a query that missed its target (or all with
 * --explain): the coordinator's own read functions run against a pool look-alike that puts each
 * SELECT through EXPLAIN (ANALYZE, BUFFERS) first, so the plans are those of exactly the
 * statements the RPC sends, with the same parameters.
 *
 * Not covered: the access-audit INSERT every read makes before it (one row, one commit).
 */
import { create } from "@bufbuild/protobuf";
import type { Pool, PoolClient, QueryConfig } from "pg";
import { pino } from "pino";
import { GetInteractionRequestSchema, ListInteractionsRequestSchema } from "../../gen/coordinator/v1/interaction_query_pb.js";
import { GetPerformanceMetricsRequestSchema, MetricsWindow } from "../../gen/coordinator/v1/performance_metrics_pb.js";
import { getPerformanceMetrics } from "../../src/interactions/metrics/performance-metrics.js";
import { noPrivacy } from "../../src/interactions/privacy/privacy.js";
import { getInteraction, listInteractions, type ReaderView } from "../../src/interactions/read/interaction-reads.js";
import type { QueryName } from "./queries-report.js";

/** One statement's plan. */
export interface ExplainedStatement {
  /** The statement's first words, for naming it. */
  statement: string;
  executionMs: number;
  plan: string[];
}

/** What explaining a query needs: an MCP and an interaction to ask about. */
export interface ExplainInput {
  mcpId: string;
  pick: { mcpId: string; interactionId: string };
}

/** Runs `query`'s read once through the explaining pool; returns its statements' plans. */
export async function explainQuery(pool: Pool, query: QueryName, input: ExplainInput): Promise<ExplainedStatement[]> {
  const plans: ExplainedStatement[] = [];
  const explaining = explainingPool(pool, plans);
  const window = { case: "window" as const, value: MetricsWindow.LAST_30_DAYS };
  // An operator's view: encrypted values (none in the bench's data) would be redacted, not decrypted.
  const view: ReaderView = { privacy: noPrivacy(silentLogger), canDecrypt: false };
  switch (query) {
    case "metrics-one":
      await getPerformanceMetrics(explaining, create(GetPerformanceMetricsRequestSchema, { mcpId: input.mcpId, period: window }));
      break;
    case "metrics-all":
      await getPerformanceMetrics(explaining, create(GetPerformanceMetricsRequestSchema, { period: window }));
      break;
    case "list-first":
      await listInteractions(explaining, create(ListInteractionsRequestSchema, {}), view);
      break;
    case "list-first-mcp":
      await listInteractions(explaining, create(ListInteractionsRequestSchema, { mcpId: input.mcpId }), view);
      break;
    case "list-page-100": {
      let pageToken = "";
      for (let page = 1; page < 100; page++) pageToken = (await listInteractions(pool, create(ListInteractionsRequestSchema, { pageToken }), view)).nextPageToken;
      await listInteractions(explaining, create(ListInteractionsRequestSchema, { pageToken }), view);
      break;
    }
    case "get-with-mcp":
      await getInteraction(explaining, create(GetInteractionRequestSchema, input.pick), view);
      break;
    case "get-without-mcp":
      await getInteraction(explaining, create(GetInteractionRequestSchema, { interactionId: input.pick.interactionId }), view);
      break;
  }
  return plans;
}

/** The plans as text: each statement's execution time, then its plan indented. */
export function plansText(plans: ExplainedStatement[]): string {
  return plans.map((p, i) => [`  statement ${i + 1} (${p.statement} ...): execution ${p.executionMs.toFixed(2)} ms`, ...p.plan.map((line) => `    ${line}`)].join("\n")).join("\n");
}

/** noPrivacy's logger: a policy without rules never logs. */
const silentLogger = pino({ level: "silent" });

type QueryArgs = [string | QueryConfig, unknown[]?];

/** A Pool look-alike whose query() and connect()ed clients EXPLAIN every SELECT before running it. */
function explainingPool(pool: Pool, plans: ExplainedStatement[]): Pool {
  const explained = (db: Pool | PoolClient) => async (...[config, values]: QueryArgs) => {
    const text = typeof config === "string" ? config : config.text;
    const params = typeof config === "string" ? values : (config.values ?? values);
    if (/^\s*(SELECT|WITH)\b/i.test(text)) {
      const { rows } = await db.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params);
      const plan = rows.map((row) => row["QUERY PLAN"]);
      const time = plan.map((line) => /^Execution Time: ([\d.]+) ms/.exec(line)?.[1]).find(Boolean);
      plans.push({ statement: text.replace(/\s+/g, " ").trim().slice(0, 70), executionMs: Number(time ?? NaN), plan });
    }
    return typeof config === "string" ? db.query(config, values) : db.query(config);
  };
  return {
    query: explained(pool),
    async connect() {
      const client = await pool.connect();
      return { query: explained(client), release: (error?: Error | boolean) => client.release(error) };
    },
  } as unknown as Pool;
}
