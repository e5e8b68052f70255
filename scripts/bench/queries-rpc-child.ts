/**
 * The query benchmark's client process: times the read RPCs over real gRPC (nice-grpc, one HTTP/2
 * connection), one call at a time, and reports a latency histogram per query to queries.ts.
 *
 * Each job: warm-up calls (not timed), then "measure-start", the timed calls back to back, then
 * "measure-end", so the parent samples the coordinator's and PostgreSQL's CPU over exactly the
 * timed calls.
 */
import { performance } from "node:perf_hooks";
import { createChannel, createClient, Metadata } from "nice-grpc";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { MetricsWindow } from "../../gen/coordinator/v1/performance_metrics_pb.js";
import { toNiceDefinition } from "../../src/transport/definition.js";
import { Histogram, type HistogramData } from "./histogram.js";
import { notifyParent, serveParent } from "./proc.js";
import type { QueryName } from "./queries-report.js";

/** One query's run, as the parent asks for it. */
export interface QueryJob {
  address: string;
  token: string;
  query: QueryName;
  warmup: number;
  calls: number;
  mcpIds: string[];
  /** Interactions to get (GetInteraction), used in turn. */
  picks: { mcpId: string; interactionId: string }[];
}

/** What a run reports. */
export interface QueryResult {
  latency: HistogramData;
  calls: number;
  /** Mean items per reply (MCPs, interactions or events; see the report). */
  returned: number;
  clientCpuMs: number;
  /** Setup before warm-up (walking to page 100), ms. */
  setupMs: number;
}

type Client = ReturnType<typeof makeClient>["client"];

function makeClient(address: string, token: string) {
  const channel = createChannel(address);
  const client = createClient(toNiceDefinition(InteractionService), channel, {
    "*": { metadata: Metadata({ authorization: `Bearer ${token}` }) },
  });
  return { client, channel };
}

/** The call of `query` number `i`; resolves with how many items came back. */
async function call(client: Client, job: QueryJob, i: number, pageToken: string): Promise<number> {
  const mcpId = job.mcpIds[i % job.mcpIds.length]!;
  const pick = job.picks[i % Math.max(1, job.picks.length)];
  const window = { case: "window" as const, value: MetricsWindow.LAST_30_DAYS };
  switch (job.query) {
    case "metrics-one":
      return (await client.getPerformanceMetrics({ mcpId, period: window })).throughput.length;
    case "metrics-all":
      return (await client.getPerformanceMetrics({ period: window })).perMcp.length;
    case "list-first":
      return (await client.listInteractions({})).interactions.length;
    case "list-first-mcp":
      return (await client.listInteractions({ mcpId })).interactions.length;
    case "list-page-100":
      return (await client.listInteractions({ pageToken })).interactions.length;
    case "get-with-mcp":
      return (await client.getInteraction({ mcpId: pick!.mcpId, interactionId: pick!.interactionId })).events.length;
    case "get-without-mcp":
      return (await client.getInteraction({ interactionId: pick!.interactionId })).events.length;
  }
}

/** Follows next_page_token from the first page until it has the token of page `page`. */
async function tokenOfPage(client: Client, page: number): Promise<string> {
  let token = "";
  for (let p = 1; p < page; p++) {
    token = (await client.listInteractions({ pageToken: token })).nextPageToken;
    if (!token) throw new Error(`ListInteractions has fewer than ${page} pages`);
  }
  return token;
}

async function run(job: QueryJob): Promise<QueryResult> {
  const { client, channel } = makeClient(job.address, job.token);
  try {
    const setupStart = performance.now();
    const pageToken = job.query === "list-page-100" ? await tokenOfPage(client, 100) : "";
    const setupMs = performance.now() - setupStart;
    for (let i = 0; i < job.warmup; i++) await call(client, job, job.calls + i, pageToken);
    const latency = new Histogram();
    let returned = 0;
    notifyParent("measure-start");
    const cpu = process.cpuUsage();
    for (let i = 0; i < job.calls; i++) {
      const start = performance.now();
      returned += await call(client, job, i, pageToken);
      latency.record(performance.now() - start);
    }
    const used = process.cpuUsage(cpu);
    notifyParent("measure-end");
    return { latency: latency.toJSON(), calls: job.calls, returned: returned / job.calls, clientCpuMs: (used.user + used.system) / 1000, setupMs };
  } finally {
    channel.close();
  }
}

serveParent({
  async run(body) {
    return { result: await run(body.job as QueryJob) };
  },
});
notifyParent("ready");
