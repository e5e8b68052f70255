/**
 * Clients that are not ours: buf curl (grpcurl-compatible, through reflection) on both ingest RPCs.
 */
import { expect } from "chai";
import { createKey } from "../../src/auth/keys.js";
import { bufCurl } from "../support/buf-curl.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";

describe("third-party clients (buf curl)", () => {
  let server: TestCoordinator;
  let token: string;
  before(async () => {
    server = await startTestCoordinator();
    token = (await createKey(server.coordinator.pool, { role: "mcp", mcpId: "curl-mcp" })).token;
  });
  after(async () => {
    await server.stop();
  });

  it("lets a third-party client stream: buf curl sends hello and events, reads welcome and acks", async () => {
    const now = new Date().toISOString();
    const frames = [
      { hello: { instanceId: "buf-curl" } },
      { event: { eventId: "bc-1", seq: "1", interactionId: "bc", kind: "EVENT_KIND_STARTED", occurredAt: now } },
      { event: { eventId: "bc-2", seq: "2", interactionId: "bc", kind: "EVENT_KIND_COMPLETED", occurredAt: now } },
    ];
    const result = await bufCurl(
      ["-H", `authorization: Bearer ${token}`, "-d", "@-", `http://${server.address}/coordinator.v1.InteractionService/StreamInteractions`],
      30_000,
      frames.map((f) => JSON.stringify(f)).join("\n"),
    );
    expect(result.code, result.stderr).to.equal(0);
    // buf curl prints each response message as pretty JSON, one after another.
    const messages = result.stdout.trim().split(/\n(?=\{)/).map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(messages[0]).to.have.property("welcome");
    const acks = messages.flatMap((m) => ((m.acks as { acks?: { eventId: string; status: string }[] } | undefined)?.acks ?? []));
    expect(acks.map((a) => [a.eventId, a.status])).to.deep.equal([
      ["bc-1", "ACK_STATUS_STORED"],
      ["bc-2", "ACK_STATUS_STORED"],
    ]);
  });

  it("takes events from a third-party client through reflection (buf curl)", async () => {
    const body = JSON.stringify({
      events: [{ eventId: "curl-1", interactionId: "curl-i", kind: "EVENT_KIND_STARTED", occurredAt: new Date().toISOString() }],
    });
    const result = await bufCurl(["-H", `authorization: Bearer ${token}`, "-d", body, `http://${server.address}/coordinator.v1.InteractionService/ReportInteractions`]);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.equal({ acks: [{ eventId: "curl-1", status: "ACK_STATUS_STORED" }] });
  });
});
