/**
 * The registry against a real database: registration, connections across replicas, batched
 * last_seen, cleanup of crashed replicas, and ListMcps paging and filters.
 */
import { expect } from "chai";
import type { Pool } from "pg";
import { Registry } from "../../src/registry/registry.js";
import { RegistryError, type McpInfo, type RegistryCaller } from "../../src/registry/types.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";

const ADMIN: RegistryCaller = { keyId: "0000000000000001", role: "admin", mcpId: undefined };

/** A complete McpInfo with overrides. */
function info(overrides: Partial<McpInfo> = {}): McpInfo {
  return {
    name: "Translator",
    version: "1.0.0",
    type: "llm-adapter",
    capabilities: ["translate"],
    supportedFormats: ["markdown"],
    endpoints: [{ name: "mcp", url: "https://translator.internal/mcp", protocol: "mcp-sse" }],
    resources: { cpuCores: 0.5, memoryMb: 512, gpuCount: 0, gpuMemoryMb: 0 },
    description: "",
    environment: "production",
    region: "eu-west-1",
    ...overrides,
  };
}

async function thrown(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
  throw new Error("expected a RegistryError");
}

describe("registry", () => {
  let db: TestDatabase;
  let pool: Pool;
  const running: Registry[] = [];

  before(async () => {
    db = await createTestDatabase();
    pool = db.pool;
  });
  after(() => db.drop());
  afterEach(async () => {
    for (const registry of running.splice(0)) await registry.stop();
    await pool.query("TRUNCATE mcps, mcp_connections, coordinator_instances");
  });

  /** A started registry whose flushes the test triggers itself. */
  async function startRegistry(instanceId = "coord-a", staleAfterMs?: number): Promise<Registry> {
    const registry = new Registry(pool, testLogger(), { instanceId, version: "test", flushIntervalMs: 3_600_000, staleAfterMs });
    await registry.start();
    running.push(registry);
    return registry;
  }

  async function listAll(registry: Registry, filters: { capability?: string; connectedOnly?: boolean; pageSize?: number } = {}) {
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await registry.list({ pageSize: filters.pageSize ?? 0, pageToken, capability: filters.capability ?? "", connectedOnly: filters.connectedOnly ?? false });
      ids.push(...page.mcps.map((m) => m.mcpId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    return ids;
  }

  it("registers an MCP implicitly when it opens a stream, and shows the connection", async () => {
    const registry = await startRegistry();
    await registry.streamOpened({ streamId: "s1", mcpId: "billing", instanceId: "pod-1", clientVersion: "js/0.1" });
    const [mcp] = (await registry.list({ pageSize: 0, pageToken: "", capability: "", connectedOnly: false })).mcps;
    expect(mcp?.mcpId).to.equal("billing");
    expect(mcp?.info).to.equal(undefined);
    expect(mcp?.connected).to.equal(true);
    expect(mcp?.connections).to.have.length(1);
    expect(mcp?.connections[0]).to.include({ streamId: "s1", instanceId: "pod-1", coordinatorInstance: "coord-a", clientVersion: "js/0.1" });

    await registry.streamClosed("s1");
    const [after] = (await registry.list({ pageSize: 0, pageToken: "", capability: "", connectedOnly: false })).mcps;
    expect(after?.connected).to.equal(false);
    expect(after?.connections).to.deep.equal([]);
  });

  it("upserts: changes fields, keeps registered_at, and moves updated_at only on a change", async () => {
    const registry = await startRegistry();
    await registry.streamOpened({ streamId: "s1", mcpId: "translator", instanceId: "", clientVersion: "" });
    const first = await registry.register({ mcpId: "translator", info: info(), routing: undefined, issueApiKey: false }, ADMIN);
    expect(first.created).to.equal(false); // the stream registered it implicitly
    expect(first.mcp.info).to.deep.equal(info());
    expect(first.mcp.routing).to.deep.equal({ priority: 0, weight: 1, maxConcurrency: 0 });

    const same = await registry.register({ mcpId: "translator", info: info(), routing: undefined, issueApiKey: false }, ADMIN);
    expect(same.mcp.updatedAt.getTime()).to.equal(first.mcp.updatedAt.getTime());

    const changed = await registry.register(
      { mcpId: "translator", info: info({ version: "2.0.0", capabilities: ["translate", "summarize"] }), routing: { priority: 3, weight: 0.5, maxConcurrency: 8 }, issueApiKey: false },
      ADMIN,
    );
    expect(changed.mcp.info?.version).to.equal("2.0.0");
    expect(changed.mcp.info?.capabilities).to.deep.equal(["translate", "summarize"]);
    expect(changed.mcp.routing).to.deep.equal({ priority: 3, weight: 0.5, maxConcurrency: 8 });
    expect(changed.mcp.registeredAt.getTime()).to.equal(first.mcp.registeredAt.getTime());
    expect(changed.mcp.updatedAt.getTime()).to.be.greaterThan(first.mcp.updatedAt.getTime());
    expect(changed.mcp.connected).to.equal(true);

    // Unset routing keeps the admin's settings.
    const kept = await registry.register({ mcpId: "translator", info: info(), routing: undefined, issueApiKey: false }, ADMIN);
    expect(kept.mcp.routing).to.deep.equal({ priority: 3, weight: 0.5, maxConcurrency: 8 });

    const fresh = await registry.register({ mcpId: "", info: info(), routing: undefined, issueApiKey: false }, ADMIN);
    expect(fresh.created).to.equal(true);
    expect(fresh.mcp.mcpId).to.match(/^mcp-[0-9a-f]{16}$/);
  });

  it("batches last_seen: many touches, one UPDATE at the flush", async () => {
    const registry = await startRegistry();
    const ids = ["m1", "m2", "m3"];
    for (const id of ids) await registry.register({ mcpId: id, info: info(), routing: undefined, issueApiKey: false }, ADMIN);

    const statements: string[] = [];
    const original = pool.query.bind(pool);
    pool.query = ((...args: Parameters<Pool["query"]>) => {
      statements.push(String(typeof args[0] === "string" ? args[0] : (args[0] as { text: string }).text));
      return (original as (...a: unknown[]) => unknown)(...args);
    }) as Pool["query"];
    try {
      for (let i = 0; i < 300; i++) registry.touch(ids[i % ids.length]!);
      expect(statements).to.deep.equal([]); // nothing written per touch
      const { rows: before } = await original("SELECT count(*)::int AS n FROM mcps WHERE last_seen IS NOT NULL");
      expect(before[0].n).to.equal(0);
      statements.length = 0;
      await registry.flush();
    } finally {
      pool.query = original;
    }
    expect(statements.filter((s) => /UPDATE mcps SET last_seen/.test(s))).to.have.length(1);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM mcps WHERE last_seen > now() - interval '1 minute'");
    expect(rows[0].n).to.equal(3);

    statements.length = 0;
    await registry.flush(); // nothing touched since: no last_seen write at all
    expect(statements.filter((s) => /last_seen = now\(\) WHERE mcp_id/.test(s))).to.deep.equal([]);
  });

  it("does not count streams of a replica that stopped heartbeating, and removes its rows", async () => {
    const registry = await startRegistry("coord-a", 30_000);
    await pool.query("INSERT INTO coordinator_instances (instance_id, last_seen) VALUES ('coord-dead', now() - interval '1 hour')");
    await pool.query("INSERT INTO mcps (mcp_id) VALUES ('orphan')");
    await pool.query("INSERT INTO mcp_connections (stream_id, mcp_id, coordinator_instance) VALUES ('old', 'orphan', 'coord-dead')");

    const listed = await registry.list({ pageSize: 0, pageToken: "", capability: "", connectedOnly: false });
    expect(listed.mcps.map((m) => [m.mcpId, m.connected])).to.deep.equal([["orphan", false]]);
    expect((await registry.list({ pageSize: 0, pageToken: "", capability: "", connectedOnly: true })).mcps).to.deep.equal([]);

    await registry.flush();
    const { rows: instances } = await pool.query("SELECT instance_id FROM coordinator_instances ORDER BY 1");
    expect(instances.map((r) => r.instance_id)).to.deep.equal(["coord-a"]);
    const { rows: connections } = await pool.query("SELECT count(*)::int AS n FROM mcp_connections");
    expect(connections[0].n).to.equal(0);
  });

  it("shows streams on any live replica, drops leftovers at restart and its rows at stop", async () => {
    const a = await startRegistry("coord-a");
    const b = await startRegistry("coord-b");
    await a.streamOpened({ streamId: "sa", mcpId: "m", instanceId: "p1", clientVersion: "" });
    await b.streamOpened({ streamId: "sb", mcpId: "m", instanceId: "p2", clientVersion: "" });
    const [mcp] = (await a.list({ pageSize: 0, pageToken: "", capability: "", connectedOnly: true })).mcps;
    expect(mcp?.connections.map((c) => c.coordinatorInstance).sort()).to.deep.equal(["coord-a", "coord-b"]);

    // coord-b crashes (no stop) and restarts under the same id: its old row is a leftover.
    const restarted = new Registry(pool, testLogger(), { instanceId: "coord-b", version: "test", flushIntervalMs: 3_600_000 });
    await restarted.start();
    running.push(restarted);
    const [afterRestart] = (await a.list({ pageSize: 0, pageToken: "", capability: "", connectedOnly: false })).mcps;
    expect(afterRestart?.connections.map((c) => c.streamId)).to.deep.equal(["sa"]);

    await a.stop();
    running.splice(running.indexOf(a), 1);
    const { rows } = await pool.query("SELECT instance_id FROM coordinator_instances ORDER BY 1");
    expect(rows.map((r) => r.instance_id)).to.deep.equal(["coord-b"]);
    const [afterStop] = (await restarted.list({ pageSize: 0, pageToken: "", capability: "", connectedOnly: false })).mcps;
    expect(afterStop?.connected).to.equal(false);
  });

  it("re-writes its connection rows when another replica wrongly removed it", async () => {
    const registry = await startRegistry("coord-a");
    await registry.streamOpened({ streamId: "s1", mcpId: "m", instanceId: "", clientVersion: "" });
    await pool.query("DELETE FROM coordinator_instances WHERE instance_id = 'coord-a'");
    await registry.flush();
    const [mcp] = (await registry.list({ pageSize: 0, pageToken: "", capability: "", connectedOnly: false })).mcps;
    expect(mcp?.connections.map((c) => c.streamId)).to.deep.equal(["s1"]);
  });

  it("pages through every MCP exactly once, in order, even as MCPs register between pages", async () => {
    const registry = await startRegistry();
    const ids = Array.from({ length: 23 }, (_, i) => `mcp-${String(i).padStart(2, "0")}`);
    for (const id of ids) await registry.register({ mcpId: id, info: info(), routing: undefined, issueApiKey: false }, ADMIN);

    expect(await listAll(registry, { pageSize: 5 })).to.deep.equal(ids);
    expect(await listAll(registry)).to.deep.equal(ids); // default page size 50: one page

    const first = await registry.list({ pageSize: 10, pageToken: "", capability: "", connectedOnly: false });
    expect(first.mcps).to.have.length(10);
    await registry.register({ mcpId: "mcp-00a", info: info(), routing: undefined, issueApiKey: false }, ADMIN); // before the cursor
    await registry.register({ mcpId: "mcp-99", info: info(), routing: undefined, issueApiKey: false }, ADMIN); // after it
    const rest: string[] = [];
    let token = first.nextPageToken;
    while (token) {
      const page = await registry.list({ pageSize: 10, pageToken: token, capability: "", connectedOnly: false });
      rest.push(...page.mcps.map((m) => m.mcpId));
      token = page.nextPageToken;
    }
    expect([...first.mcps.map((m) => m.mcpId), ...rest]).to.deep.equal([...ids, "mcp-99"]);

    const bound = await thrown(registry.list({ pageSize: 10, pageToken: first.nextPageToken, capability: "translate", connectedOnly: false }));
    expect(bound.field).to.equal("page_token");
    expect((await thrown(registry.list({ pageSize: 10, pageToken: "garbage!", capability: "", connectedOnly: false }))).field).to.equal("page_token");
    expect((await thrown(registry.list({ pageSize: -1, pageToken: "", capability: "", connectedOnly: false }))).field).to.equal("page_size");
  });

  it("filters by capability (exact match) and by connection", async () => {
    const registry = await startRegistry();
    await registry.register({ mcpId: "a", info: info({ capabilities: ["translate", "summarize"] }), routing: undefined, issueApiKey: false }, ADMIN);
    await registry.register({ mcpId: "b", info: info({ capabilities: ["summarize"] }), routing: undefined, issueApiKey: false }, ADMIN);
    await registry.register({ mcpId: "c", info: info({ capabilities: ["translate-fast"] }), routing: undefined, issueApiKey: false }, ADMIN);
    await registry.streamOpened({ streamId: "s", mcpId: "b", instanceId: "", clientVersion: "" });

    expect(await listAll(registry, { capability: "summarize" })).to.deep.equal(["a", "b"]);
    expect(await listAll(registry, { capability: "translate" })).to.deep.equal(["a"]);
    expect(await listAll(registry, { capability: "summarize", connectedOnly: true })).to.deep.equal(["b"]);
    expect(await listAll(registry, { capability: "summarize", pageSize: 1 })).to.deep.equal(["a", "b"]);
  });

  it("refuses bad values naming the field, and mcp keys acting beyond their own MCP", async () => {
    const registry = await startRegistry();
    const mcp: RegistryCaller = { keyId: "0000000000000002", role: "mcp", mcpId: "billing" };
    const register = (request: Partial<Parameters<Registry["register"]>[0]>, caller = ADMIN) =>
      thrown(registry.register({ mcpId: "x", info: info(), routing: undefined, issueApiKey: false, ...request }, caller));

    expect((await register({ info: info({ capabilities: ["a", "b", "c", "x".repeat(129)] }) })).field).to.equal("info.capabilities[3]");
    expect((await register({ info: info({ name: " " }) })).field).to.equal("info.name");
    expect((await register({ info: undefined })).field).to.equal("info");
    expect((await register({ info: info({ endpoints: [{ name: "mcp", url: "", protocol: "" }] }) })).field).to.equal("info.endpoints[0].url");
    expect((await register({ mcpId: "bad id" })).field).to.equal("mcp_id");
    expect((await register({ routing: { priority: 0, weight: 101, maxConcurrency: 0 } })).field).to.equal("routing.weight");

    const other = await register({ mcpId: "payroll" }, mcp);
    expect([other.kind, other.field]).to.deep.equal(["permission", "mcp_id"]);
    expect((await register({ mcpId: "", routing: { priority: 1, weight: 1, maxConcurrency: 0 } }, mcp)).field).to.equal("routing");
    expect((await register({ mcpId: "", issueApiKey: true }, mcp)).field).to.equal("issue_api_key");

    const own = await registry.register({ mcpId: "", info: info(), routing: undefined, issueApiKey: false }, mcp);
    expect(own.mcp.mcpId).to.equal("billing");
    expect(own.mcp.lastSeen).to.be.instanceOf(Date); // the MCP itself called: it was heard from
  });
});
