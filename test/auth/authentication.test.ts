/**
 * Every way a call can fail authentication or authorization, over a real server and database.
 */
import { expect } from "chai";
import { ClientError, Status } from "nice-grpc";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { createKey, revokeApiKey } from "../../src/auth/keys.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";

async function callStatus(call: () => Promise<unknown>): Promise<{ code: Status; details: string }> {
  try {
    await call();
  } catch (error) {
    if (error instanceof ClientError) return { code: error.code, details: error.details };
    throw error;
  }
  return { code: Status.OK, details: "" };
}

describe("authentication and roles", () => {
  let server: TestCoordinator;
  const channels: { close(): void }[] = [];

  before(async () => {
    // A short key cache, so revoking a key in use can be observed quickly.
    server = await startTestCoordinator({}, { authCacheTtlMs: 300 });
  });
  after(async () => {
    for (const channel of channels) channel.close();
    await server.stop();
  });

  function humanLoop(token?: string) {
    const { client, channel } = clientFor(HumanLoopService, server.address, token);
    channels.push(channel);
    return client;
  }

  async function newKey(role: string, extra: { mcpId?: string; expiresAt?: Date } = {}) {
    return createKey(server.coordinator.pool, { role, ...extra });
  }

  it("refuses a call without a key: UNAUTHENTICATED, saying how to send one", async () => {
    const { code, details } = await callStatus(() => humanLoop().listTemplates({}));
    expect(Status[code]).to.equal("UNAUTHENTICATED");
    expect(details).to.contain("authorization: Bearer");
  });

  it("refuses a malformed key without looking it up", async () => {
    const { code, details } = await callStatus(() => humanLoop("not-a-key").listTemplates({}));
    expect(Status[code]).to.equal("UNAUTHENTICATED");
    expect(details).to.contain("malformed");
  });

  it("refuses an unknown key and a known id with the wrong secret alike", async () => {
    const { key } = await newKey("operator");
    const unknown = await callStatus(() => humanLoop(`mcpc_0123456789abcdef_${"A".repeat(43)}`).listTemplates({}));
    const wrongSecret = await callStatus(() => humanLoop(`mcpc_${key.id}_${"B".repeat(43)}`).listTemplates({}));
    expect(Status[unknown.code]).to.equal("UNAUTHENTICATED");
    expect(Status[wrongSecret.code]).to.equal("UNAUTHENTICATED");
    expect(wrongSecret.details).to.contain("unknown API key");
    expect(wrongSecret.details).not.to.contain("B".repeat(43));
  });

  it("refuses an expired key", async () => {
    const { key, token } = await newKey("operator", { expiresAt: new Date(Date.now() + 60_000) });
    await server.coordinator.pool.query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [key.id]);
    const { code, details } = await callStatus(() => humanLoop(token).listTemplates({}));
    expect(Status[code]).to.equal("UNAUTHENTICATED");
    expect(details).to.contain("expired");
  });

  it("refuses a revoked key", async () => {
    const { key, token } = await newKey("operator");
    await revokeApiKey(server.coordinator.pool, key.id);
    const { code, details } = await callStatus(() => humanLoop(token).listTemplates({}));
    expect(Status[code]).to.equal("UNAUTHENTICATED");
    expect(details).to.contain("revoked");
  });

  it("refuses a key revoked while in use once its cache entry expires", async () => {
    const { key, token } = await newKey("operator");
    const client = humanLoop(token);
    expect(Status[(await callStatus(() => client.listTemplates({}))).code]).to.equal("OK");
    await revokeApiKey(server.coordinator.pool, key.id);
    await waitFor(async () => (await callStatus(() => client.listTemplates({}))).code === Status.UNAUTHENTICATED, {
      timeoutMs: 5_000,
      message: "revoked key refused",
    });
  });

  it("refuses a role the method does not allow: PERMISSION_DENIED naming the allowed roles", async () => {
    const { token } = await newKey("mcp", { mcpId: "billing-mcp" });
    const { code, details } = await callStatus(() =>
      humanLoop(token).respond({ decisionId: "d1" }),
    );
    expect(Status[code]).to.equal("PERMISSION_DENIED");
    expect(details).to.contain("role mcp");
    expect(details).to.contain("operator, admin");
  });

  it("lets an allowed role through to the method, which judges the request", async () => {
    const { token } = await newKey("workflow");
    const { client, channel } = clientFor(InteractionService, server.address, token);
    channels.push(channel);
    const { code, details } = await callStatus(() => client.getPerformanceMetrics({ topErrorCodesLimit: 1_000 }));
    expect(Status[code]).to.equal("INVALID_ARGUMENT");
    expect(details).to.match(/^top_error_codes_limit/);
  });

  it("lets the admin key call anything", async () => {
    // Past authentication and roles: the method itself judges the request ("d1" is not an id).
    const { code, details } = await callStatus(() => humanLoop(server.adminToken).respond({ decisionId: "d1" }));
    expect(Status[code]).to.equal("INVALID_ARGUMENT");
    expect(details).to.match(/^decision_id/);
  });

  it("applies roles on server streams too", async () => {
    const { token } = await newKey("workflow");
    const { code } = await callStatus(async () => {
      for await (const _ of humanLoop(token).watchDecisions({})) break;
    });
    expect(Status[code]).to.equal("PERMISSION_DENIED");
  });
});
