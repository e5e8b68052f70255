/**
 * RegisterMcp and ListMcps handlers, called directly with the context the auth middleware would
 * build: role rules, field-naming errors, issued keys, the config an MCP is told, paging.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { Metadata, ServerError, Status, type CallContext } from "nice-grpc-common";
import type { Pool } from "pg";
import {
  ListMcpsRequestSchema,
  ListMcpsResponseSchema,
  McpInfoSchema,
  RegisterMcpRequestSchema,
  RegisterMcpResponseSchema,
  RoutingConfigSchema,
} from "../../gen/coordinator/v1/registry_pb.js";
import { Authenticator, type Principal } from "../../src/auth/authenticator.js";
import { DEFAULT_INGEST_LIMITS } from "../../src/interactions/limits.js";
import { Registry } from "../../src/registry/registry.js";
import type { AuthContext } from "../../src/transport/auth-middleware.js";
import { registryHandlers, REPORT_INTERVAL_MS, type RegistryHandlers } from "../../src/transport/registry-handlers.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";

const ADMIN: Principal = { keyId: "00000000000000ad", role: "admin", mcpId: undefined, name: "admin", principal: "00000000000000ad" };
const BILLING: Principal = { keyId: "00000000000000b1", role: "mcp", mcpId: "billing", name: "billing", principal: "00000000000000b1" };
const WORKFLOW: Principal = { keyId: "00000000000000f1", role: "workflow", mcpId: undefined, name: "flow", principal: "00000000000000f1" };

/** The context the auth middleware hands a handler. */
function as(principal: Principal): CallContext & AuthContext {
  return {
    principal,
    metadata: Metadata(),
    peer: "test",
    header: Metadata(),
    trailer: Metadata(),
    sendHeader: () => undefined,
    signal: new AbortController().signal,
  };
}

const INFO: MessageInitShape<typeof McpInfoSchema> = {
  name: "Billing",
  version: "1.2.3",
  capabilities: ["invoice", "refund"],
  endpoints: [{ name: "mcp", url: "https://billing.internal/mcp" }],
  resources: { cpuCores: 1, memoryMb: 2048n },
};

/** The fields of a RegisterMcpRequest a test sets (info defaults to INFO). */
interface RegisterInit {
  mcpId?: string;
  info?: MessageInitShape<typeof McpInfoSchema>;
  routing?: MessageInitShape<typeof RoutingConfigSchema>;
  issueApiKey?: boolean;
}

function registerRequest(init: RegisterInit) {
  return create(RegisterMcpRequestSchema, { info: INFO, ...init });
}

async function statusOf(call: Promise<unknown>): Promise<{ code: Status; details: string }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ServerError) return { code: error.code, details: error.details };
    throw error;
  }
  return { code: Status.OK, details: "" };
}

describe("registry handlers", () => {
  let db: TestDatabase;
  let pool: Pool;
  let registry: Registry;
  let handlers: RegistryHandlers;

  before(async () => {
    db = await createTestDatabase();
    pool = db.pool;
    registry = new Registry(pool, testLogger(), { instanceId: "coord-test", version: "test", flushIntervalMs: 3_600_000 });
    await registry.start();
    handlers = registryHandlers(registry, DEFAULT_INGEST_LIMITS);
  });
  after(async () => {
    await registry.stop();
    await db.drop();
  });

  it("lets an mcp key register its own MCP (id from the key) and tells it the ingest terms", async () => {
    const response = await handlers.registerMcp(registerRequest({}), as(BILLING));
    expect(response.created).to.equal(true);
    expect(response.apiKey).to.equal("");
    expect(response.mcp?.mcpId).to.equal("billing");
    expect(response.mcp?.info?.capabilities).to.deep.equal(["invoice", "refund"]);
    expect(response.mcp?.info?.resources?.memoryMb).to.equal(2048n);
    expect(response.mcp?.lastSeen).to.not.equal(undefined);

    const config = create(RegisterMcpResponseSchema, response).config!;
    expect(durationMs(config.heartbeatInterval!)).to.equal(DEFAULT_INGEST_LIMITS.heartbeatIntervalMs);
    expect(durationMs(config.reportInterval!)).to.equal(REPORT_INTERVAL_MS);
    expect(config.maxInFlight).to.equal(DEFAULT_INGEST_LIMITS.defaultMaxInFlight);
    expect(config.maxPayloadBytes).to.equal(DEFAULT_INGEST_LIMITS.maxPayloadBytes);
    expect(config.maxReportEvents).to.equal(DEFAULT_INGEST_LIMITS.maxReportEvents);
    expect(config.routing).to.include({ priority: 0, weight: 1, maxConcurrency: 0 });

    const again = await handlers.registerMcp(registerRequest({ mcpId: "billing", info: { ...INFO, version: "1.2.4" } }), as(BILLING));
    expect(again.created).to.equal(false);
    expect(again.mcp?.info?.version).to.equal("1.2.4");
  });

  it("refuses an mcp key registering another MCP: PERMISSION_DENIED naming mcp_id", async () => {
    const { code, details } = await statusOf(handlers.registerMcp(registerRequest({ mcpId: "payroll" }), as(BILLING)));
    expect(Status[code]).to.equal("PERMISSION_DENIED");
    expect(details).to.match(/^mcp_id: /);
    expect(details).to.contain("payroll");
  });

  it("refuses admin-only fields from an mcp key: PERMISSION_DENIED naming them", async () => {
    const routing = await statusOf(handlers.registerMcp(registerRequest({ routing: { weight: 2 } }), as(BILLING)));
    expect(Status[routing.code]).to.equal("PERMISSION_DENIED");
    expect(routing.details).to.match(/^routing: /);
    const key = await statusOf(handlers.registerMcp(registerRequest({ issueApiKey: true }), as(BILLING)));
    expect(Status[key.code]).to.equal("PERMISSION_DENIED");
    expect(key.details).to.match(/^issue_api_key: /);
    const workflow = await statusOf(handlers.registerMcp(registerRequest({ mcpId: "x" }), as(WORKFLOW)));
    expect(Status[workflow.code]).to.equal("PERMISSION_DENIED");
  });

  it("lets an admin set routing and issue a key that authenticates as the MCP", async () => {
    const response = await handlers.registerMcp(
      registerRequest({ mcpId: "search", routing: { priority: 2, weight: 0, maxConcurrency: 5 }, issueApiKey: true }),
      as(ADMIN),
    );
    expect(response.mcp?.routing).to.deep.equal({ priority: 2, weight: 0, maxConcurrency: 5 });
    expect(response.config?.routing).to.deep.equal({ priority: 2, weight: 0, maxConcurrency: 5 });
    expect(response.apiKey).to.match(/^mcpc_/);
    const principal = await new Authenticator(pool).authenticate(`Bearer ${response.apiKey}`);
    expect(principal).to.include({ role: "mcp", mcpId: "search" });

    const generated = await handlers.registerMcp(registerRequest({}), as(ADMIN));
    expect(generated.created).to.equal(true);
    expect(generated.mcp?.mcpId).to.match(/^mcp-/);
  });

  it("answers INVALID_ARGUMENT naming the field", async () => {
    const cases: [RegisterInit, string][] = [
      [{ info: { ...INFO, capabilities: ["a", "b", "c", ""] } }, "info.capabilities[3]"],
      [{ info: { ...INFO, name: "" } }, "info.name"],
      [{ info: { ...INFO, region: "r".repeat(257) } }, "info.region"],
      [{ info: { ...INFO, endpoints: [{ url: "https://x" }] } }, "info.endpoints[0].name"],
      [{ info: { ...INFO, resources: { cpuCores: Number.NaN } } }, "info.resources.cpu_cores"],
      [{ info: { ...INFO, resources: { memoryMb: 2n ** 63n } } }, "info.resources.memory_mb"],
    ];
    for (const [init, field] of cases) {
      const { code, details } = await statusOf(handlers.registerMcp(registerRequest({ mcpId: "v", ...init }), as(ADMIN)));
      expect(Status[code], field).to.equal("INVALID_ARGUMENT");
      expect(details, field).to.match(new RegExp(`^${field.replace(/[[\].]/g, "\\$&")}: `));
    }
    const noInfo = await statusOf(handlers.registerMcp(create(RegisterMcpRequestSchema, { mcpId: "v" }), as(ADMIN)));
    expect(noInfo.details).to.match(/^info: /);
    const badId = await statusOf(handlers.registerMcp(registerRequest({ mcpId: "has space" }), as(ADMIN)));
    expect(Status[badId.code]).to.equal("INVALID_ARGUMENT");
    expect(badId.details).to.match(/^mcp_id: /);
    const badToken = await statusOf(handlers.listMcps(create(ListMcpsRequestSchema, { pageToken: "nope" }), as(WORKFLOW)));
    expect(Status[badToken.code]).to.equal("INVALID_ARGUMENT");
    expect(badToken.details).to.match(/^page_token: /);
  });

  it("lists MCPs page by page with their connections", async () => {
    await pool.query("TRUNCATE mcps, mcp_connections");
    for (const id of ["p1", "p2", "p3", "p4", "p5"]) {
      await handlers.registerMcp(registerRequest({ mcpId: id }), as(ADMIN));
    }
    await registry.streamOpened({ streamId: "stream-1", mcpId: "p3", instanceId: "host-a", clientVersion: "js/1.0" });

    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await handlers.listMcps(create(ListMcpsRequestSchema, { pageSize: 2, pageToken }), as(WORKFLOW));
      seen.push(...(page.mcps ?? []).map((m) => m.mcpId!));
      pageToken = page.nextPageToken ?? "";
      pages++;
    } while (pageToken);
    expect(seen).to.deep.equal(["p1", "p2", "p3", "p4", "p5"]);
    expect(pages).to.equal(3);

    const connected = create(ListMcpsResponseSchema, await handlers.listMcps(create(ListMcpsRequestSchema, { connectedOnly: true }), as(WORKFLOW)));
    expect(connected.mcps.map((m) => m.mcpId)).to.deep.equal(["p3"]);
    const [p3] = connected.mcps;
    expect(p3?.connected).to.equal(true);
    const [connection] = p3?.connections ?? [];
    expect(connection).to.include({ streamId: "stream-1", instanceId: "host-a", coordinatorInstance: "coord-test", clientVersion: "js/1.0" });
    expect(Date.now() - timestampDate(connection!.connectedSince!).getTime()).to.be.lessThan(60_000);

    await registry.streamClosed("stream-1");
    const none = await handlers.listMcps(create(ListMcpsRequestSchema, { connectedOnly: true }), as(WORKFLOW));
    expect(none.mcps).to.deep.equal([]);
    expect(none.nextPageToken).to.equal("");
  });
});
