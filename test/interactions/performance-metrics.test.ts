/**
 * GetPerformanceMetrics against a brute-force computation over the same summaries: random
 * interactions of several MCPs spread over 17 days, so periods are read from week, day, hour and
 * minute rollups, of each MCP and of all MCPs together (some unfinished, some without a processing
 * time, some whose late FAILED moves them to another minute after the rollups were computed), then
 * random periods compared figure by figure. The rollups' percentiles may differ from the exact
 * nearest-rank value by their bucket width (2%); everything else must be equal.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { ClientError, Status } from "nice-grpc";
import { EventKind, InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { MetricsWindow, type GetPerformanceMetricsResponse, type PerformanceSummary } from "../../gen/coordinator/v1/performance_metrics_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { createKey } from "../../src/auth/keys.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { seededRandom } from "../support/random.js";

type Client = ReturnType<typeof clientFor<(typeof InteractionService)["method"]>>["client"];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** How far back the random interactions go. */
const SPAN = 17 * DAY;
const MCPS = ["m-a", "m-b", "m-c", "m-d"];
const CODES = ["E_TIMEOUT", "E_QUOTA", "E_BAD_INPUT", ""];
/** The rollups' percentile error bound: (1.04 - 1) / (1.04 + 1), plus float slack. */
const PERCENTILE_TOLERANCE = 0.0197;

interface Finished {
  mcp_id: string;
  ended_at: Date;
  success: boolean;
  error_code: string;
  processing_ms: number | null;
}

describe("GetPerformanceMetrics", function () {
  this.timeout(120_000);
  let server: TestCoordinator;
  let admin: Client;
  let operator: Client;
  const channels: { close(): void }[] = [];
  const seed = Number(process.env.METRICS_SEED ?? Date.now() % 1_000_000);
  const rand = seededRandom(seed);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  let now: number;

  before(async () => {
    // The test runs the rollup job itself; the background one only runs at start.
    server = await startTestCoordinator({}, { rollups: { intervalMs: 3_600_000 } });
    const pool = server.coordinator.pool;
    for (const [role, set] of [["admin", (c: Client) => (admin = c)], ["operator", (c: Client) => (operator = c)]] as const) {
      const key = await createKey(pool, { role, principal: `${role}-user` });
      const { client, channel } = clientFor(InteractionService, server.address, key.token);
      set(client);
      channels.push(channel);
    }
    now = Date.now();
  });
  after(async () => {
    for (const channel of channels) channel.close();
    await server.stop();
  });

  function detail(kind: EventKind, failed: { code: string } | undefined, reportedMs: number | undefined): InteractionEvent["detail"] {
    const processingTime = reportedMs === undefined ? undefined : durationFromMs(reportedMs);
    if (kind === EventKind.STARTED) return { case: "request", value: { requestType: "search" } as never };
    if (kind === EventKind.COMPLETED) {
      return { case: "result", value: { success: !failed, errorCode: failed?.code ?? "", processingTime } as never };
    }
    return { case: "error", value: { errorCode: failed!.code, message: "boom", processingTime } as never };
  }

  function eventOf(kind: EventKind, id: string, at: number, failed?: { code: string }, reportedMs?: number): InteractionEvent {
    return create(InteractionEventSchema, {
      eventId: crypto.randomUUID(),
      interactionId: id,
      kind,
      occurredAt: timestampFromMs(Math.round(at)),
      detail: detail(kind, failed, reportedMs),
    });
  }

  async function report(byMcp: Map<string, InteractionEvent[]>) {
    for (const [mcpId, events] of byMcp) {
      for (let i = 0; i < events.length; i += 500) {
        const chunk = events.slice(i, i + 500);
        const { acks } = await admin.reportInteractions({ mcpId, events: chunk });
        expect(acks.every((a) => a.status === AckStatus.STORED), `acks of ${mcpId}`).to.equal(true);
      }
    }
  }

  async function catchUp() {
    // Retried while the start-up run still holds the lock; a run that ran saw every acked event.
    let ran = false;
    while (!ran) ran = (await server.coordinator.rollups.runOnce()).ran;
  }

  async function finishedRows(): Promise<Finished[]> {
    const { rows } = await server.coordinator.pool.query<Finished>(
      "SELECT mcp_id, ended_at, success, error_code, processing_ms FROM interactions WHERE ended_at IS NOT NULL",
    );
    return rows;
  }

  /** Exact figures of `rows`, computed the obvious way. */
  function bruteForce(rows: Finished[]) {
    const times = rows.filter((r) => r.processing_ms !== null).map((r) => Math.max(0, r.processing_ms!)).sort((a, b) => a - b);
    const rank = (p: number) => times[Math.max(1, Math.ceil((p * times.length) / 100)) - 1]!;
    return {
      count: rows.length,
      success: rows.filter((r) => r.success).length,
      samples: times.length,
      avg: times.reduce((a, b) => a + b, 0) / times.length,
      min: times[0],
      max: times.at(-1),
      p50: rank(50),
      p95: rank(95),
      p99: rank(99),
    };
  }

  const ms = (d: Duration | undefined) => Number(d!.seconds) * 1000 + d!.nanos / 1e6;

  function expectSummary(got: PerformanceSummary | undefined, rows: Finished[], what: string) {
    const want = bruteForce(rows);
    expect(Number(got!.count), `${what} count (seed ${seed})`).to.equal(want.count);
    expect(Number(got!.successCount), `${what} successes`).to.equal(want.success);
    expect(Number(got!.failureCount), `${what} failures`).to.equal(want.count - want.success);
    expect(got!.successRate, `${what} success rate`).to.be.closeTo(want.count ? want.success / want.count : 0, 1e-12);
    const stats = got!.processingTime!;
    expect(Number(stats.samples), `${what} samples`).to.equal(want.samples);
    if (want.samples === 0) {
      expect(stats.avg, `${what} no avg`).to.equal(undefined);
      return;
    }
    expect(ms(stats.avg), `${what} avg`).to.be.closeTo(want.avg, 1e-4);
    expect(ms(stats.min), `${what} min`).to.be.closeTo(want.min!, 1e-5);
    expect(ms(stats.max), `${what} max`).to.be.closeTo(want.max!, 1e-5);
    for (const p of ["p50", "p95", "p99"] as const) {
      expect(ms(stats[p]), `${what} ${p} (seed ${seed})`).to.be.closeTo(want[p], want[p] * PERCENTILE_TOLERANCE + 1e-5);
    }
  }

  /** Checks a whole response against the rows that ended in its period. */
  function expectMatches(response: GetPerformanceMetricsResponse, all: Finished[], mcpId = "") {
    const start = timestampDate(response.startTime!).getTime();
    const end = timestampDate(response.endTime!).getTime();
    const rows = all.filter((r) => r.ended_at.getTime() >= start && r.ended_at.getTime() < end && (!mcpId || r.mcp_id === mcpId));
    const label = `[${new Date(start).toISOString()}, ${new Date(end).toISOString()})${mcpId ? ` of ${mcpId}` : ""}`;
    expectSummary(response.summary, rows, label);

    const perMcp = new Map<string, Finished[]>();
    for (const row of rows) perMcp.set(row.mcp_id, [...(perMcp.get(row.mcp_id) ?? []), row]);
    const order = [...perMcp.keys()].sort((a, b) => perMcp.get(b)!.length - perMcp.get(a)!.length || (a < b ? -1 : 1));
    if (!mcpId || order.length) expect(response.perMcp.map((m) => m.mcpId), `${label} per_mcp order`).to.deep.equal(order);
    for (const m of response.perMcp) if (perMcp.has(m.mcpId)) expectSummary(m.summary, perMcp.get(m.mcpId)!, `${label} ${m.mcpId}`);

    const firstHour = Math.floor(start / HOUR) * HOUR;
    expect(response.throughput.length, `${label} hours`).to.equal(Math.ceil((end - firstHour) / HOUR));
    response.throughput.forEach((point, i) => {
      const hour = firstHour + i * HOUR;
      expect(timestampDate(point.bucketStart!).getTime()).to.equal(hour);
      const inHour = rows.filter((r) => r.ended_at.getTime() >= hour && r.ended_at.getTime() < hour + HOUR);
      expect(Number(point.count), `${label} hour ${new Date(hour).toISOString()}`).to.equal(inHour.length);
      expect(Number(point.successCount)).to.equal(inHour.filter((r) => r.success).length);
      expect(Number(point.failureCount)).to.equal(inHour.filter((r) => !r.success).length);
    });

    const codes = new Map<string, { count: number; last: number }>();
    for (const row of rows.filter((r) => !r.success)) {
      const c = codes.get(row.error_code) ?? { count: 0, last: 0 };
      codes.set(row.error_code, { count: c.count + 1, last: Math.max(c.last, row.ended_at.getTime()) });
    }
    const top = [...codes].sort(([a, x], [b, y]) => y.count - x.count || (a < b ? -1 : 1)).slice(0, 10);
    expect(
      response.topErrorCodes.map((e) => [e.errorCode, Number(e.count), timestampDate(e.lastSeenAt!).getTime()]),
      `${label} top error codes`,
    ).to.deep.equal(top.map(([code, c]) => [code, c.count, c.last]));
  }

  it("equals a brute-force computation over random interactions, after late failures move some", async () => {
    const first = new Map<string, InteractionEvent[]>(MCPS.map((m) => [m, []]));
    const late = new Map<string, InteractionEvent[]>(MCPS.map((m) => [m, []]));
    for (let i = 0; i < 800; i++) {
      const mcp = pick(MCPS);
      const id = `int-${i}`;
      const startedAt = now - SPAN + rand() * (SPAN - 2 * HOUR);
      const took = Math.exp(rand() * 11); // 1 ms to about 1 minute, log-uniform
      const endedAt = startedAt + took;
      const events = first.get(mcp)!;
      const noStart = rand() < 0.05;
      if (!noStart) events.push(eventOf(EventKind.STARTED, id, startedAt));
      const shape = rand();
      // Reported half the time; otherwise measured from start to end (none without a start).
      const reported = rand() < 0.5 ? Math.round(took) : undefined;
      if (shape < 0.15) continue; // still running
      if (shape < 0.7) events.push(eventOf(EventKind.COMPLETED, id, endedAt, undefined, reported));
      else if (shape < 0.8) events.push(eventOf(EventKind.COMPLETED, id, endedAt, { code: pick(CODES) }, reported));
      else events.push(eventOf(EventKind.FAILED, id, endedAt, { code: pick(CODES) }, reported));
      // A late FAILED beats the COMPLETED: another time (often another hour), sent after the
      // rollups already counted the completion.
      if (shape < 0.7 && rand() < 0.15) late.get(mcp)!.push(eventOf(EventKind.FAILED, id, endedAt + rand() * HOUR, { code: pick(CODES) }, undefined));
    }
    await report(first);
    await catchUp();
    await report(late);
    await catchUp();
    const rows = await finishedRows();
    expect(rows.length).to.be.greaterThan(550);

    const everything = await operator.getPerformanceMetrics({ period: { case: "timeRange", value: { startTime: timestampFromMs(now - SPAN - DAY), endTime: timestampFromMs(now + MINUTE) } } });
    expectMatches(everything, rows);
    expect(Number(everything.summary!.count)).to.equal(rows.length);

    for (let i = 0; i < 12; i++) {
      const a = Math.round(now - SPAN + rand() * SPAN);
      const b = Math.round(a + rand() * (SPAN - (a - (now - SPAN))));
      const response = await operator.getPerformanceMetrics({
        mcpId: i % 3 === 0 ? pick(MCPS) : "",
        period: { case: "timeRange", value: { startTime: timestampFromMs(a), endTime: timestampFromMs(b + 1) } },
      });
      expect(timestampDate(response.startTime!).getTime()).to.equal(Math.floor(a / MINUTE) * MINUTE);
      expect(timestampDate(response.endTime!).getTime()).to.equal(Math.ceil((b + 1) / MINUTE) * MINUTE);
      expectMatches(response, rows, i % 3 === 0 ? response.perMcp[0]?.mcpId ?? "" : "");
    }
  });

  it("windows end with the current minute and cover 1 h, 24 h, 7 d and 30 d", async () => {
    const rows = await finishedRows();
    const lengths = { [MetricsWindow.LAST_HOUR]: HOUR, [MetricsWindow.LAST_24_HOURS]: DAY, [MetricsWindow.LAST_7_DAYS]: 7 * DAY, [MetricsWindow.LAST_30_DAYS]: 30 * DAY };
    for (const [window, length] of Object.entries(lengths)) {
      const before = Date.now();
      const response = await operator.getPerformanceMetrics({ period: { case: "window", value: Number(window) } });
      const end = timestampDate(response.endTime!).getTime();
      expect(end - timestampDate(response.startTime!).getTime()).to.equal(length);
      expect(end).to.be.within(Math.floor(before / MINUTE) * MINUTE + MINUTE, Math.floor(Date.now() / MINUTE) * MINUTE + MINUTE);
      expectMatches(response, rows);
    }
    const unset = await operator.getPerformanceMetrics({});
    expect(timestampDate(unset.endTime!).getTime() - timestampDate(unset.startTime!).getTime()).to.equal(DAY);
  });

  it("names the field of a bad request, and records each call in the access audit", async () => {
    const bad = async (request: Parameters<Client["getPerformanceMetrics"]>[0]) => {
      try {
        await operator.getPerformanceMetrics(request);
      } catch (error) {
        expect(error).to.be.instanceOf(ClientError);
        return `${Status[(error as ClientError).code]} ${(error as ClientError).details}`;
      }
      throw new Error("accepted");
    };
    expect(await bad({ mcpId: "no spaces allowed" })).to.match(/^INVALID_ARGUMENT mcp_id/);
    expect(await bad({ topErrorCodesLimit: 101 })).to.match(/^INVALID_ARGUMENT top_error_codes_limit/);
    expect(await bad({ period: { case: "window", value: 99 as MetricsWindow } })).to.match(/^INVALID_ARGUMENT window/);
    expect(await bad({ period: { case: "timeRange", value: { startTime: timestampFromMs(now) } } })).to.match(/^INVALID_ARGUMENT time_range/);
    expect(await bad({ period: { case: "timeRange", value: { startTime: timestampFromMs(now), endTime: timestampFromMs(now - 1) } } })).to.match(/^INVALID_ARGUMENT time_range/);
    expect(await bad({ period: { case: "timeRange", value: { startTime: timestampFromMs(now - 32 * DAY), endTime: timestampFromMs(now) } } })).to.match(/^INVALID_ARGUMENT time_range.*31 days/);

    await operator.getPerformanceMetrics({ mcpId: "m-a", period: { case: "window", value: MetricsWindow.LAST_HOUR } });
    const { entries } = await admin.listAccessAudit({ principal: "operator-user" });
    const mine = entries.find((e) => e.method.endsWith("/GetPerformanceMetrics") && JSON.stringify(e.request).includes("m-a"));
    expect(mine, "audit row of the last call").to.not.equal(undefined);
  });

  it("an MCP with no finished interactions in the period gets zeros, not an error", async () => {
    const response = await operator.getPerformanceMetrics({ mcpId: "never-reported", period: { case: "window", value: MetricsWindow.LAST_HOUR } });
    expect(Number(response.summary!.count)).to.equal(0);
    expect(response.summary!.processingTime!.samples).to.equal(0n);
    expect(response.perMcp.map((m) => [m.mcpId, Number(m.summary!.count)])).to.deep.equal([["never-reported", 0]]);
    expect(response.topErrorCodes).to.deep.equal([]);
  });
});
