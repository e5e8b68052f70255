/**
 * RankMcps: candidates by capability and connection, each part of the score computed as the
 * contract's formula says from the interactions reported, the ordering and its tie-breakers, and
 * bad requests.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { ClientError, Status } from "nice-grpc";
import { EventKind, InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import type { McpRanking } from "../../gen/coordinator/v1/mcp_ranking_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { createReporter, type Reporter } from "../../src/client/index.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";

type Client = ReturnType<typeof clientFor<(typeof InteractionService)["method"]>>["client"];

describe("RankMcps", function () {
  this.timeout(60_000);
  let server: TestCoordinator;
  let admin: Client;
  let workflow: Client;
  const channels: { close(): void }[] = [];
  const reporters: Reporter[] = [];

  before(async () => {
    server = await startTestCoordinator({}, { rollups: { intervalMs: 3_600_000 }, registryFlushIntervalMs: 50 });
    const pool = server.coordinator.pool;
    const adminKey = await createKey(pool, { role: "admin", principal: "root" });
    const workflowKey = await createKey(pool, { role: "workflow", principal: "router" });
    for (const [token, set] of [[adminKey.token, (c: Client) => (admin = c)], [workflowKey.token, (c: Client) => (workflow = c)]] as const) {
      const { client, channel } = clientFor(InteractionService, server.address, token);
      set(client);
      channels.push(channel);
    }
    const register = (mcpId: string, capabilities: string[], routing: { priority?: number; weight?: number; maxConcurrency?: number } = {}) =>
      admin.registerMcp({ mcpId, info: { name: `${mcpId} server`, capabilities }, routing: { priority: 0, weight: 1, maxConcurrency: 0, ...routing } });
    await register("fast", ["translate", "summarize"], { maxConcurrency: 10 });
    await register("slow", ["translate"]);
    await register("idle", ["translate"]);
    await register("offline", ["translate"]);
    await register("other", ["summarize"]);
    // Connected: fast, slow and idle hold a stream; offline does not.
    for (const mcpId of ["fast", "slow", "idle"]) {
      const key = await createKey(pool, { role: "mcp", mcpId });
      reporters.push(createReporter({ address: server.address, apiKey: key.token, mcpId, spoolDir: false }));
    }
    await waitFor(async () => (await admin.listMcps({ connectedOnly: true })).mcps.length === 3, { timeoutMs: 10_000, message: "three MCPs connected" });

    const now = Date.now();
    // fast: 9 of 10 succeed in 100 ms; 5 running now (load 5/10).
    // slow: 5 of 10 succeed in 1,000 ms. offline: 1 of 1 in 10 ms, long ago within the window.
    await report("fast", [...finished("f", 10, 9, 100, now - 10 * 60_000), ...running("fr", 5, now - 60_000)]);
    await report("slow", finished("s", 10, 5, 1_000, now - 10 * 60_000));
    await report("offline", finished("o", 1, 1, 10, now - 30 * 60_000));
    // Outside the default 1-hour window: not counted.
    await report("slow", finished("old", 20, 0, 5_000, now - 3 * 3_600_000));
    let ran = false;
    while (!ran) ran = (await server.coordinator.rollups.runOnce()).ran;
  });
  after(async () => {
    await Promise.all(reporters.map((r) => r.close(1_000)));
    for (const channel of channels) channel.close();
    await server.stop();
  });

  function eventOf(kind: EventKind, id: string, at: number, success?: boolean, tookMs?: number): InteractionEvent {
    const detail: InteractionEvent["detail"] =
      kind === EventKind.STARTED
        ? { case: "request", value: { requestType: "translate" } as never }
        : success
          ? { case: "result", value: { success: true, processingTime: durationFromMs(tookMs!) } as never }
          : { case: "error", value: { errorCode: "E", message: "no", processingTime: durationFromMs(tookMs!) } as never };
    return create(InteractionEventSchema, { eventId: crypto.randomUUID(), interactionId: id, kind, occurredAt: timestampFromMs(at), detail });
  }

  function finished(prefix: string, count: number, successes: number, tookMs: number, at: number): InteractionEvent[] {
    return Array.from({ length: count }, (_, i) => [
      eventOf(EventKind.STARTED, `${prefix}-${i}`, at),
      eventOf(i < successes ? EventKind.COMPLETED : EventKind.FAILED, `${prefix}-${i}`, at + tookMs, i < successes, tookMs),
    ]).flat();
  }

  function running(prefix: string, count: number, at: number): InteractionEvent[] {
    return Array.from({ length: count }, (_, i) => eventOf(EventKind.STARTED, `${prefix}-${i}`, at));
  }

  async function report(mcpId: string, events: InteractionEvent[]) {
    const { acks } = await admin.reportInteractions({ mcpId, events });
    expect(acks.every((a) => a.status === AckStatus.STORED)).to.equal(true);
  }

  const byId = (rankings: McpRanking[]) => new Map(rankings.map((r) => [r.mcpId, r]));

  it("ranks the connected MCPs offering the capability, with every part of the score as documented", async () => {
    const response = await workflow.rankMcps({ capability: "translate" });
    expect(durationMs(response.window!)).to.equal(3_600_000);
    expect(response.weights).to.deep.include({ success: 0.5, latency: 0.3, load: 0.2 });
    expect(response.rankings.map((r) => r.mcpId)).to.deep.equal(["fast", "idle", "slow"]);
    const r = byId(response.rankings);

    const fast = r.get("fast")!;
    expect(fast).to.deep.include({ name: "fast server", finished: 10n, successRate: 0.9, activeInteractions: 5n, maxConcurrency: 10, load: 0.5, loadScore: 0.5, connected: true, routingWeight: 1 });
    expect(fast.successScore).to.be.closeTo(10 / 12, 1e-12);
    // The median of the candidates' p95s (100 and 1,000 ms) is 550 ms; p95s are within 2%.
    const fastP95 = durationMs(fast.p95ProcessingTime!);
    const slowP95 = durationMs(r.get("slow")!.p95ProcessingTime!);
    expect(fastP95).to.be.closeTo(100, 2);
    expect(slowP95).to.be.closeTo(1_000, 20);
    const median = (fastP95 + slowP95) / 2;
    expect(fast.latencyScore).to.be.closeTo(median / (median + fastP95), 1e-3);
    expect(fast.score).to.be.closeTo(0.5 * (10 / 12) + 0.3 * fast.latencyScore + 0.2 * 0.5, 1e-9);

    const slow = r.get("slow")!;
    expect(slow).to.deep.include({ finished: 10n, successRate: 0.5, activeInteractions: 0n, maxConcurrency: 100, load: 0, loadScore: 1 });
    expect(slow.successScore).to.be.closeTo(6 / 12, 1e-12);
    expect(slow.latencyScore).to.be.closeTo(median / (median + slowP95), 1e-3);

    // No data: 0.5 for success and latency, an empty MCP is fully available.
    const idle = r.get("idle")!;
    expect(idle).to.deep.include({ finished: 0n, successRate: 0, successScore: 0.5, latencyScore: 0.5, loadScore: 1 });
    expect(idle.p95ProcessingTime).to.equal(undefined);
    expect(idle.score).to.be.closeTo(0.5 * 0.5 + 0.3 * 0.5 + 0.2, 1e-12);
  });

  it("includes disconnected MCPs on request, honours limit, and applies the routing weight and priority", async () => {
    const all = await workflow.rankMcps({ capability: "translate", includeDisconnected: true });
    expect(all.rankings.map((r) => r.mcpId)).to.have.members(["fast", "idle", "slow", "offline"]);
    expect(byId(all.rankings).get("offline")).to.deep.include({ connected: false, finished: 1n });

    expect((await workflow.rankMcps({ capability: "translate", limit: 1 })).rankings.map((r) => r.mcpId)).to.deep.equal(["fast"]);
    expect((await workflow.rankMcps({ capability: "summarize" })).rankings.map((r) => r.mcpId)).to.deep.equal(["fast"]);
    expect((await workflow.rankMcps({ capability: "nobody-offers-this" })).rankings).to.deep.equal([]);

    // Weight 3 multiplies slow's score past fast's; equal scores fall back on priority.
    await admin.registerMcp({ mcpId: "slow", info: { name: "slow server", capabilities: ["translate"] }, routing: { weight: 3, priority: 0, maxConcurrency: 0 } });
    const weighted = await workflow.rankMcps({ capability: "translate" });
    expect(weighted.rankings[0]!.mcpId).to.equal("slow");
    expect(weighted.rankings[0]!.routingWeight).to.equal(3);
    await admin.registerMcp({ mcpId: "slow", info: { name: "slow server", capabilities: ["translate"] }, routing: { weight: 1, priority: 0, maxConcurrency: 0 } });

    await admin.registerMcp({ mcpId: "offline", info: { name: "offline server", capabilities: ["translate"] }, routing: { weight: 1, priority: 5, maxConcurrency: 0 } });
    const tied = (await workflow.rankMcps({ capability: "translate", includeDisconnected: true, window: durationFromMs(60_000) })).rankings;
    // In the last minute nobody finished anything: idle, offline and slow tie on the score, so
    // priority (offline: 5) and then mcp_id decide.
    const tiedIds = tied.filter((t) => t.mcpId !== "fast").map((t) => t.mcpId);
    expect(tiedIds).to.deep.equal(["offline", "idle", "slow"]);
  });

  it("names the field of a bad request", async () => {
    const refusal = async (request: Parameters<Client["rankMcps"]>[0]) => {
      try {
        await workflow.rankMcps(request);
      } catch (error) {
        expect(error).to.be.instanceOf(ClientError);
        return `${Status[(error as ClientError).code]} ${(error as ClientError).details}`;
      }
      throw new Error("accepted");
    };
    expect(await refusal({})).to.match(/^INVALID_ARGUMENT capability/);
    expect(await refusal({ capability: "x".repeat(129) })).to.match(/^INVALID_ARGUMENT capability/);
    expect(await refusal({ capability: "translate", window: durationFromMs(59_000) })).to.match(/^INVALID_ARGUMENT window/);
    expect(await refusal({ capability: "translate", window: durationFromMs(31 * 86_400_000) })).to.match(/^INVALID_ARGUMENT window/);
    expect(await refusal({ capability: "translate", limit: -1 })).to.match(/^INVALID_ARGUMENT limit/);
  });
});
