/**
 * The log manager's read side over gRPC: GetInteraction (summary and events in order, NOT_FOUND,
 * an ambiguous id), ListInteractions (filters, keyset pages stable while ingest goes on, token
 * checks), the access audit every read writes (ListAccessAudit, admins only, append-only), and
 * GetStats.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { ClientError, Status } from "nice-grpc";
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionStatus } from "../../gen/coordinator/v1/interaction_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { VERSION } from "../../src/version.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { event } from "./events.js";

type Client = ReturnType<typeof clientFor<(typeof InteractionService)["method"]>>["client"];

describe("interaction reads", function () {
  this.timeout(60_000);
  let server: TestCoordinator;
  const channels: { close(): void }[] = [];
  const clients: Record<"alpha" | "beta" | "operator" | "admin", Client> = {} as never;

  before(async () => {
    server = await startTestCoordinator();
    const pool = server.coordinator.pool;
    const keys = {
      alpha: await createKey(pool, { role: "mcp", mcpId: "alpha" }),
      beta: await createKey(pool, { role: "mcp", mcpId: "beta" }),
      operator: await createKey(pool, { role: "operator", principal: "olga" }),
      admin: await createKey(pool, { role: "admin", principal: "root" }),
    };
    for (const name of Object.keys(keys) as (keyof typeof keys)[]) {
      const { client, channel } = clientFor(InteractionService, server.address, keys[name].token);
      clients[name] = client;
      channels.push(channel);
    }
  });
  after(async () => {
    for (const channel of channels) channel.close();
    await server.stop();
  });

  async function report(mcp: "alpha" | "beta", events: ReturnType<typeof event>[]) {
    const { acks } = await clients[mcp].reportInteractions({ events });
    expect(acks.map((a) => AckStatus[a.status])).to.deep.equal(events.map(() => "STORED"));
  }

  const refusal = (error: unknown) => {
    expect(error).to.be.instanceOf(ClientError);
    return { code: Status[(error as ClientError).code], details: (error as ClientError).details };
  };

  it("GetInteraction returns the summary and every event in the order they happened", async () => {
    const t = Date.UTC(2026, 10, 1, 12);
    // Arrival order differs from occurrence order: completion first.
    await report("alpha", [event(EventKind.COMPLETED, "get-1", t + 3_000), event(EventKind.PROGRESS, "get-1", t + 1_000)]);
    await report("alpha", [event(EventKind.STARTED, "get-1", t), event(EventKind.PROGRESS, "get-1", t + 2_000)]);
    const { interaction, events } = await clients.operator.getInteraction({ interactionId: "get-1" });
    expect(interaction).to.deep.include({ interactionId: "get-1", mcpId: "alpha", status: InteractionStatus.COMPLETED, requestType: "search", success: true, progressCount: 2, eventCount: 4 });
    expect(Number(interaction!.processingTime!.seconds)).to.equal(1);
    expect(interaction!.lastProgress!.step).to.equal(`step-${t + 2_000}`);
    expect(events.map((e) => EventKind[e.event!.kind])).to.deep.equal(["STARTED", "PROGRESS", "PROGRESS", "COMPLETED"]);
    expect(events.every((e) => e.mcpId === "alpha" && e.receivedAt && e.storedAt && e.coordinatorVersion === VERSION)).to.equal(true);
  });

  it("GetInteraction: NOT_FOUND, an empty id named, and an id two MCPs used needs mcp_id", async () => {
    expect(refusal(await clients.operator.getInteraction({ interactionId: "nope" }).catch((e: unknown) => e))).to.deep.include({ code: "NOT_FOUND" });
    expect(refusal(await clients.operator.getInteraction({ interactionId: "" }).catch((e: unknown) => e))).to.deep.equal({
      code: "INVALID_ARGUMENT",
      details: "interaction_id: is required",
    });
    await report("alpha", [event(EventKind.STARTED, "shared", Date.now())]);
    await report("beta", [event(EventKind.FAILED, "shared", Date.now())]);
    const ambiguous = refusal(await clients.operator.getInteraction({ interactionId: "shared" }).catch((e: unknown) => e));
    expect(ambiguous.code).to.equal("FAILED_PRECONDITION");
    expect(ambiguous.details).to.contain("alpha, beta").and.to.contain("set mcp_id");
    const ofBeta = await clients.operator.getInteraction({ interactionId: "shared", mcpId: "beta" });
    expect(ofBeta.interaction).to.deep.include({ mcpId: "beta", status: InteractionStatus.FAILED, success: false, errorCode: "E42" });
  });

  it("ListInteractions filters by MCP, status, success, request type and time range", async () => {
    const prefix = `flt-${Date.now()}`;
    await report("beta", [event(EventKind.STARTED, `${prefix}-run`, Date.now())]);
    await report("beta", [event(EventKind.STARTED, `${prefix}-ok`, Date.now()), event(EventKind.COMPLETED, `${prefix}-ok`, Date.now())]);
    await report("beta", [event(EventKind.FAILED, `${prefix}-bad`, Date.now())]);
    const ids = async (filter: Parameters<Client["listInteractions"]>[0]) =>
      (await clients.operator.listInteractions({ mcpId: "beta", pageSize: 500, ...filter })).interactions.map((i) => i.interactionId).filter((id) => id.startsWith(prefix));
    expect(await ids({})).to.deep.equal([`${prefix}-bad`, `${prefix}-ok`, `${prefix}-run`]);
    expect(await ids({ status: InteractionStatus.STARTED })).to.deep.equal([`${prefix}-run`]);
    expect(await ids({ success: true })).to.deep.equal([`${prefix}-ok`]);
    expect(await ids({ success: false })).to.deep.equal([`${prefix}-bad`]);
    expect(await ids({ requestType: "search" })).to.deep.equal([`${prefix}-ok`, `${prefix}-run`]);
    expect(await ids({ timeRange: { startTime: timestampFromMs(Date.now() + 60_000) } })).to.deep.equal([]);
    const bad = refusal(
      await clients.operator
        .listInteractions({ timeRange: { startTime: timestampFromMs(Date.now()), endTime: timestampFromMs(Date.now() - 1) } })
        .catch((e: unknown) => e),
    );
    expect(bad.code).to.equal("INVALID_ARGUMENT");
    expect(bad.details).to.match(/^time_range: /);
  });

  it("pages newest first, each interaction exactly once, while new interactions keep arriving", async () => {
    const prefix = `page-${Date.now()}`;
    for (let i = 0; i < 6; i++) {
      await report("alpha", Array.from({ length: 20 }, (_, j) => event(EventKind.STARTED, `${prefix}-${String(i * 20 + j).padStart(3, "0")}`, Date.now())));
    }
    const filter = { mcpId: "alpha", status: InteractionStatus.STARTED, pageSize: 25 };
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await clients.operator.listInteractions({ ...filter, pageToken: token });
      seen.push(...page.interactions.map((i) => i.interactionId));
      token = page.nextPageToken;
      pages++;
      // Ingest goes on between pages: these are newer and must not shift the pages.
      await report("alpha", [event(EventKind.STARTED, `${prefix}-late-${pages}`, Date.now())]);
    } while (token);
    const ours = seen.filter((id) => id.startsWith(prefix) && !id.includes("late"));
    expect(ours).to.have.length(120);
    expect(new Set(seen).size, "no interaction twice").to.equal(seen.length);
    expect(seen.filter((id) => id.includes("late")), "later arrivals stay off the pages already started").to.deep.equal([]);

    const other = refusal(await clients.operator.listInteractions({ ...filter, status: InteractionStatus.COMPLETED, pageToken: (await clients.operator.listInteractions(filter)).nextPageToken }).catch((e: unknown) => e));
    expect(other).to.deep.equal({ code: "INVALID_ARGUMENT", details: "page_token: was issued for other filters; start again without a token" });
    const garbage = refusal(await clients.operator.listInteractions({ pageToken: "not-a-token" }).catch((e: unknown) => e));
    expect(garbage.details).to.equal("page_token: is not a token this server issued");
  });

  it("records every read in the access audit, which admins list and nobody can change", async () => {
    await clients.operator.getInteraction({ interactionId: "get-1", mcpId: "alpha" });
    await clients.operator.listInteractions({ mcpId: "beta", pageSize: 7 });
    const { entries } = await clients.admin.listAccessAudit({ principal: "olga", pageSize: 2 });
    expect(entries.map((e) => [e.principal, e.role, e.method])).to.deep.equal([
      ["olga", "operator", "/coordinator.v1.InteractionService/ListInteractions"],
      ["olga", "operator", "/coordinator.v1.InteractionService/GetInteraction"],
    ]);
    expect(entries[0]!.request).to.deep.include({ mcpId: "beta", pageSize: 7 });
    expect(entries[1]!.request).to.deep.include({ interactionId: "get-1", mcpId: "alpha" });

    const byMethod = await clients.admin.listAccessAudit({ method: "/coordinator.v1.InteractionService/GetInteraction", pageSize: 500 });
    expect(byMethod.entries.length).to.be.at.least(1);
    expect(byMethod.entries.every((e) => e.method.endsWith("/GetInteraction"))).to.equal(true);
    // Every read so far, one page at a time, newest first and none twice.
    const all: bigint[] = [];
    let token = "";
    do {
      const page = await clients.admin.listAccessAudit({ pageSize: 3, pageToken: token });
      all.push(...page.entries.map((e) => e.id));
      token = page.nextPageToken;
    } while (token);
    const { rows } = await server.coordinator.pool.query("SELECT id FROM access_audit ORDER BY at DESC, id DESC");
    expect(all.map(String)).to.deep.equal(rows.map((r: { id: string }) => String(r.id)));

    expect(refusal(await clients.operator.listAccessAudit({}).catch((e: unknown) => e)).code).to.equal("PERMISSION_DENIED");
    const change = await server.coordinator.pool.query("UPDATE access_audit SET principal = 'someone'").catch((e: Error) => e);
    expect(change).to.be.instanceOf(Error);
    expect((change as Error).message).to.equal("access_audit is append-only (UPDATE refused)");
  });

  it("GetStats: this replica's counters and database totals equal to counting the rows", async () => {
    const stats = await clients.operator.getStats({});
    expect(stats.coordinatorInstance).to.equal(server.coordinator.registry.instanceId);
    const { ingest, database } = stats;
    const { rows: events } = await server.coordinator.pool.query("SELECT count(*)::int AS n FROM interaction_events");
    // Every event this file reported went through this replica and was stored.
    expect(Number(ingest!.eventsReceived)).to.equal(events[0].n);
    expect(Number(ingest!.eventsStored)).to.equal(events[0].n);
    expect(ingest!.writerRunning).to.equal(true);
    expect(Number(ingest!.batchesCommitted)).to.be.at.least(1);
    expect(ingest!.avgBatchSize).to.be.greaterThan(0);
    const { rows } = await server.coordinator.pool.query(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE status IN (1, 2))::int AS active,
              count(*) FILTER (WHERE status = 3)::int AS completed, count(*) FILTER (WHERE status = 4)::int AS failed
         FROM interactions`,
    );
    expect({
      events: Number(database!.eventsStored),
      total: Number(database!.interactionsTotal),
      active: Number(database!.interactionsActive),
      completed: Number(database!.interactionsCompleted),
      failed: Number(database!.interactionsFailed),
    }).to.deep.equal({ events: events[0].n, ...rows[0] });
    expect(database!.avgProcessingTime, "finished interactions have a processing time").to.not.equal(undefined);
    expect(refusal(await clients.alpha.getStats({}).catch((e: unknown) => e)).code).to.equal("PERMISSION_DENIED");
  });
});
