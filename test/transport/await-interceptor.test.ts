/**
 * AwaitDecision is answered by a grpc-js interceptor (await-interceptor.ts) rather than through
 * nice-grpc: the same rules must hold there. Authentication before the request is looked at,
 * roles, malformed bytes, one request message, statuses for domain errors, and a cancelled call
 * releasing its subscription.
 */
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { createKey } from "../../src/auth/keys.js";
import { createHumanLoop, DecisionStatus, type HumanLoop } from "../../src/client/index.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";

const PATH = "/coordinator.v1.HumanLoopService/AwaitDecision";
const BAD_BYTES = Buffer.from([0x0a, 0xff, 0x01, 0x41]);

describe("AwaitDecision (grpc-js interceptor)", function () {
  this.timeout(30_000);
  let server: TestCoordinator;
  let workflow: HumanLoop;
  let workflowToken: string;
  let mcpToken: string;
  const clients: grpc.Client[] = [];

  before(async () => {
    server = await startTestCoordinator();
    workflowToken = (await createKey(server.coordinator.pool, { role: "workflow", principal: "ci" })).token;
    mcpToken = (await createKey(server.coordinator.pool, { role: "mcp", mcpId: "some-mcp" })).token;
    workflow = createHumanLoop({ address: server.address, apiKey: workflowToken });
  });
  after(async () => {
    workflow.close();
    for (const client of clients) client.close();
    await server.stop();
  });

  /** Opens a raw AwaitDecision stream with `body` as the request bytes. */
  function rawAwait(body: Buffer, token?: string) {
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
    clients.push(client);
    const metadata = new grpc.Metadata();
    if (token) metadata.set("authorization", `Bearer ${token}`);
    const stream = client.makeServerStreamRequest(PATH, (value: Buffer) => value, (value: Buffer) => value, body, metadata);
    const messages: Buffer[] = [];
    stream.on("data", (message: Buffer) => messages.push(message));
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
    stream.on("error", () => undefined);
    return { stream, messages, ended };
  }

  /** An AwaitDecisionRequest for `id`, encoded by hand: field 1, a string. */
  const requestFor = (id: string) => Buffer.concat([Buffer.from([0x0a, id.length]), Buffer.from(id)]);

  it("authenticates before looking at the request: no key and bad bytes is UNAUTHENTICATED", async () => {
    const status = await rawAwait(BAD_BYTES).ended;
    expect(status.code).to.equal(grpc.status.UNAUTHENTICATED);
    expect(status.details).to.contain("missing API key");
  });

  it("refuses a role that may not await (an MCP key) with PERMISSION_DENIED", async () => {
    const status = await rawAwait(requestFor("0190b3f0-0000-7000-8000-000000000000"), mcpToken).ended;
    expect(status.code).to.equal(grpc.status.PERMISSION_DENIED);
    expect(status.details).to.match(/role mcp .* may not call coordinator\.v1\.HumanLoopService\/AwaitDecision/);
  });

  it("answers INVALID_ARGUMENT naming the message for bytes that do not parse", async () => {
    const status = await rawAwait(BAD_BYTES, workflowToken).ended;
    expect(status.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(status.details).to.contain("coordinator.v1.AwaitDecisionRequest");
  });

  it("maps domain errors: a bad id is INVALID_ARGUMENT naming the field, an unknown one NOT_FOUND", async () => {
    const bad = await rawAwait(requestFor("nope"), workflowToken).ended;
    expect(bad.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).to.match(/^decision_id: /);
    const unknown = await rawAwait(requestFor("0190b3f0-0000-7000-8000-000000000000"), workflowToken).ended;
    expect(unknown.code).to.equal(grpc.status.NOT_FOUND);
  });

  it("sends the current state, the change, then OK; a cancelled call releases its subscription", async () => {
    const feed = server.coordinator.humanLoop.feed;
    const before = feed.subscriberCount;
    const decisions = await Promise.all(
      Array.from({ length: 20 }, async (_, i) =>
        (await workflow.create({ workflowId: "w", title: `t${i}`, spec: { kind: { case: "confirmation", value: {} } } }, { requestKey: `ai-${i}` })).decision,
      ),
    );
    const awaits = decisions.map((d) => rawAwait(requestFor(d.id), workflowToken));
    await waitFor(() => awaits.every((a) => a.messages.length === 1), { message: "every await got its current state" });
    expect(feed.subscriberCount - before).to.equal(20);

    // One completes normally: the change arrives, then status OK.
    await workflow.cancel(decisions[0]!.id, "done");
    const status = await awaits[0]!.ended;
    expect(status.code).to.equal(grpc.status.OK);
    expect(awaits[0]!.messages).to.have.length(2);
    expect((await workflow.get(decisions[0]!.id)).decision.status).to.equal(DecisionStatus.CANCELLED);

    // The other 19 clients go away: their subscriptions must go with them.
    for (const a of awaits.slice(1)) a.stream.cancel();
    await waitFor(() => feed.subscriberCount === before, { message: `subscriptions released (still ${feed.subscriberCount - before})` });
  });

  it("ends open awaits with UNAVAILABLE when the coordinator shuts down, so clients reattach elsewhere", async () => {
    const other = await startTestCoordinator();
    try {
      const token = (await createKey(other.coordinator.pool, { role: "workflow", principal: "ci" })).token;
      const client = createHumanLoop({ address: other.address, apiKey: token });
      const { decision } = await client.create({ workflowId: "w", title: "t", spec: { kind: { case: "confirmation", value: {} } } }, { requestKey: "shutdown" });
      client.close();
      const rawClient = new grpc.Client(other.address, grpc.credentials.createInsecure());
      clients.push(rawClient);
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${token}`);
      const stream = rawClient.makeServerStreamRequest(PATH, (v: Buffer) => v, (v: Buffer) => v, requestFor(decision.id), metadata);
      let messages = 0;
      stream.on("data", () => messages++);
      stream.on("error", () => undefined);
      const ended = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
      await waitFor(() => messages === 1, { message: "current state received" });
      await other.stop();
      const status = await ended;
      expect(status.code).to.equal(grpc.status.UNAVAILABLE);
      expect(status.details).to.contain("shutting down");
    } finally {
      await other.stop().catch(() => undefined);
    }
  });
});
