/**
 * Callback delivery against a real coordinator and a local HTTP receiver: signed with the
 * deployment secret, retried with backoff until a 2xx (audited per attempt), given up after the
 * last attempt, refused off the allowlist (at create and again at send time), and never
 * following a redirect.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { expect } from "chai";
import { Status, type Channel } from "nice-grpc";
import { CreateDecisionRequestSchema } from "../../gen/coordinator/v1/decision_commands_pb.js";
import { DecisionAuditAction, type DecisionAuditEntry } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { CALLBACK_SIGNING_KEY_NAME, callbackSigningKey } from "../../src/humanloop/callback-secret.js";
import { DELIVERY_HEADER, TIMESTAMP_HEADER, verify } from "../../src/humanloop/callback-signature.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { createTestDatabase, waitFor } from "../support/database.js";

type Client = ReturnType<typeof clientFor<(typeof HumanLoopService)["method"]>>["client"];

/** One request the receiver got. */
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const CALLBACK_ACTIONS = [DecisionAuditAction.CALLBACK_DELIVERED, DecisionAuditAction.CALLBACK_FAILED];
const MAX_ATTEMPTS = 4;

describe("decision callbacks", function () {
  this.timeout(30_000);
  let server: TestCoordinator;
  let receiver: Server;
  let base: string;
  const received: Received[] = [];
  /** Per path: how many requests it got so far. */
  const hits = new Map<string, number>();
  const channels: Channel[] = [];
  let workflow: Client;
  let operator: Client;
  let counter = 0;

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const path = (req.url ?? "/").split("?")[0]!;
        const n = (hits.get(path) ?? 0) + 1;
        hits.set(path, n);
        received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        if (path === "/flaky") res.writeHead(n <= 2 ? 503 : 200).end();
        else if (path === "/down") res.writeHead(500).end("broken");
        else if (path === "/redirect") res.writeHead(302, { location: `${base}/target` }).end();
        else res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

    server = await startTestCoordinator(
      { callbackAllowlist: ["127.0.0.1"], callbackAllowHttp: true },
      { callbackPollMs: 20, callbacks: { backoffBaseMs: 40, maxAttempts: MAX_ATTEMPTS } },
    );
    const client = async (role: "workflow" | "operator", principal: string) => {
      const { token } = await createKey(server.coordinator.pool, { role, principal });
      const { client, channel } = clientFor(HumanLoopService, server.address, token);
      channels.push(channel);
      return client;
    };
    workflow = await client("workflow", "ci");
    operator = await client("operator", "alice");
  });

  after(async () => {
    for (const channel of channels) channel.close();
    await server.stop();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  function request(overrides: Record<string, unknown> = {}) {
    counter++;
    return create(CreateDecisionRequestSchema, {
      requestKey: `cb-${counter}`,
      workflowId: "deploy",
      title: "Deploy?",
      spec: { kind: { case: "confirmation", value: {} } },
      ...overrides,
    } as MessageInitShape<typeof CreateDecisionRequestSchema>);
  }

  /** Creates a decision calling back to `path` and answers it; returns its id and final revision. */
  async function decideWithCallback(path: string): Promise<{ id: string; revision: bigint }> {
    const { decision } = await workflow.createDecision(request({ callbackUrl: `${base}${path}`, context: { ticket: "OPS-1" } }));
    const done = await operator.respond({ decisionId: decision!.id, response: { action: ResponseAction.ACCEPT } });
    return { id: decision!.id, revision: done.decision!.revision };
  }

  async function callbackAudit(id: string): Promise<DecisionAuditEntry[]> {
    const { audit } = await workflow.getDecision({ decisionId: id, includeAudit: true });
    return audit.filter((entry) => CALLBACK_ACTIONS.includes(entry.action));
  }

  function deliveriesOf(id: string): Received[] {
    return received.filter((r) => String(r.headers[DELIVERY_HEADER]).startsWith(`${id}:`));
  }

  it("POSTs the final decision, signed with the deployment secret, and audits the delivery", async () => {
    const { id, revision } = await decideWithCallback("/ok");
    const [delivery] = await waitFor(() => (deliveriesOf(id).length === 1 ? deliveriesOf(id) : undefined), { message: "the callback" });
    const { rows } = await server.coordinator.pool.query("SELECT value FROM deployment_secrets WHERE name = $1", [CALLBACK_SIGNING_KEY_NAME]);
    const key: Buffer = rows[0].value;
    expect(key).to.have.length(32);

    expect(delivery!.headers["content-type"]).to.equal("application/json");
    expect(delivery!.headers[DELIVERY_HEADER]).to.equal(`${id}:${revision}`);
    expect(Math.abs(Number(delivery!.headers[TIMESTAMP_HEADER]) - Date.now() / 1000)).to.be.below(60);
    expect(verify(key, delivery!.body, delivery!.headers)).to.equal("ok");
    expect(verify(key, delivery!.body.replace("COMPLETED", "CANCELLED"), delivery!.headers)).to.equal("bad_signature");
    expect(verify(Buffer.alloc(32), delivery!.body, delivery!.headers)).to.equal("bad_signature");
    expect(verify(key, delivery!.body, delivery!.headers, { now: Date.now() + 3_600_000 })).to.equal("outside_tolerance");

    const body = JSON.parse(delivery!.body);
    expect(body).to.include({ decision_id: id, workflow_id: "deploy", status: "COMPLETED", revision: Number(revision), defaulted: false, cancel_reason: "" });
    expect(body.outcome).to.deep.equal({ action: "RESPONSE_ACTION_ACCEPT" });
    expect(body.responses).to.have.length(1);
    expect(body.responses[0].responder).to.equal("alice");
    expect(body.context).to.deep.equal({ ticket: "OPS-1" });
    expect(new Date(body.resolved_at).getTime()).to.be.closeTo(Date.now(), 60_000);

    const audit = await waitFor(async () => {
      const rows = await callbackAudit(id);
      return rows.length === 1 ? rows : undefined;
    });
    expect(audit[0]!.action).to.equal(DecisionAuditAction.CALLBACK_DELIVERED);
    expect(audit[0]!.actor).to.equal("system");
    expect(audit[0]!.revision).to.equal(revision);
    expect(audit[0]!.details).to.deep.include({ attempt: 1, http_status: 200 });
  });

  it("retries a failing receiver with backoff until it answers 2xx, auditing each attempt", async () => {
    const { id } = await decideWithCallback("/flaky");
    const audit = await waitFor(
      async () => {
        const rows = await callbackAudit(id);
        return rows.some((r) => r.action === DecisionAuditAction.CALLBACK_DELIVERED) ? rows : undefined;
      },
      { timeoutMs: 10_000, message: "the delivery after two failures" },
    );
    expect(audit.map((r) => r.action)).to.deep.equal([
      DecisionAuditAction.CALLBACK_FAILED,
      DecisionAuditAction.CALLBACK_FAILED,
      DecisionAuditAction.CALLBACK_DELIVERED,
    ]);
    expect(audit[0]!.details).to.deep.include({ attempt: 1, http_status: 503, final: false });
    expect(audit[1]!.details).to.deep.include({ attempt: 2, http_status: 503, final: false });
    expect(audit[2]!.details).to.deep.include({ attempt: 3, http_status: 200 });
    // One delivery id across retries, so the receiver can drop duplicates.
    const deliveries = deliveriesOf(id);
    expect(deliveries).to.have.length(3);
    expect(new Set(deliveries.map((d) => d.headers[DELIVERY_HEADER])).size).to.equal(1);
    const { rows } = await server.coordinator.pool.query("SELECT attempts, delivered_at, given_up_at FROM decision_callbacks WHERE decision_id = $1", [id]);
    expect(rows[0].attempts).to.equal(3);
    expect(rows[0].delivered_at).to.be.instanceOf(Date);
    expect(rows[0].given_up_at).to.equal(null);
  });

  it("gives up after the last attempt, marking the last failure final", async () => {
    const { id } = await decideWithCallback("/down");
    const row = await waitFor(
      async () => {
        const { rows } = await server.coordinator.pool.query("SELECT * FROM decision_callbacks WHERE decision_id = $1 AND given_up_at IS NOT NULL", [id]);
        return rows[0];
      },
      { timeoutMs: 10_000, message: "giving up" },
    );
    expect(row.attempts).to.equal(MAX_ATTEMPTS);
    expect(row.last_error).to.match(/HTTP 500/);
    const audit = await callbackAudit(id);
    expect(audit.map((r) => r.action)).to.deep.equal(Array(MAX_ATTEMPTS).fill(DecisionAuditAction.CALLBACK_FAILED));
    expect(audit.map((r) => r.details!.final)).to.deep.equal([false, false, false, true]);
    expect(deliveriesOf(id)).to.have.length(MAX_ATTEMPTS);
  });

  it("refuses a callback host that is not on the allowlist at create", async () => {
    let error: { code: Status; details: string } | undefined;
    try {
      await workflow.createDecision(request({ callbackUrl: "https://internal.example.com/hook" }));
    } catch (e) {
      error = e as { code: Status; details: string };
    }
    expect(error?.code).to.equal(Status.INVALID_ARGUMENT);
    expect(error?.details).to.match(/^callback_url: host "internal\.example\.com" is not on the server's callback allowlist/);
  });

  it("re-checks the allowlist at send time: a queued URL off the list is given up unsent", async () => {
    // A callback queued for a host the allowlist does not admit (as if it was removed since).
    const { decision } = await workflow.createDecision(request());
    const done = await operator.respond({ decisionId: decision!.id, response: { action: ResponseAction.ACCEPT } });
    const port = (receiver.address() as AddressInfo).port;
    await server.coordinator.pool.query("INSERT INTO decision_callbacks (decision_id, revision, url) VALUES ($1, $2, $3)", [
      decision!.id,
      done.decision!.revision.toString(),
      `http://localhost:${port}/ok`,
    ]);
    const audit = await waitFor(async () => {
      const rows = await callbackAudit(decision!.id);
      return rows.length === 1 ? rows : undefined;
    });
    expect(audit[0]!.action).to.equal(DecisionAuditAction.CALLBACK_FAILED);
    expect(audit[0]!.details).to.deep.include({ attempt: 1, final: true });
    expect(audit[0]!.details!.error).to.match(/refused before sending: callback_url: host "localhost" is not on the server's callback allowlist/);
    expect(deliveriesOf(decision!.id)).to.have.length(0);
  });

  it("does not follow a redirect: a 3xx is a failed attempt", async () => {
    const { id } = await decideWithCallback("/redirect");
    const audit = await waitFor(async () => {
      const rows = await callbackAudit(id);
      return rows.length >= 1 ? rows : undefined;
    });
    expect(audit[0]!.action).to.equal(DecisionAuditAction.CALLBACK_FAILED);
    expect(audit[0]!.details).to.deep.include({ attempt: 1, http_status: 302 });
    expect(audit[0]!.details!.error).to.match(/redirect not followed/);
    // Had the redirect been followed, /target would have been hit before the audit row was written.
    expect(hits.get("/target") ?? 0).to.equal(0);
  });

  it("creates the signing key once, even when replicas ask at the same time", async () => {
    // A database no coordinator has started on yet: no key so far.
    const fresh = await createTestDatabase();
    try {
      const keys = await Promise.all(Array.from({ length: 5 }, () => callbackSigningKey(fresh.pool)));
      for (const key of keys) expect(key.equals(keys[0]!)).to.equal(true);
      const { rows } = await fresh.pool.query("SELECT count(*)::int AS n, min(value) AS value FROM deployment_secrets WHERE name = $1", [CALLBACK_SIGNING_KEY_NAME]);
      expect(rows[0].n).to.equal(1);
      expect(keys[0]!.equals(rows[0].value)).to.equal(true);
      expect((await callbackSigningKey(fresh.pool)).equals(keys[0]!)).to.equal(true);
    } finally {
      await fresh.drop();
    }
  });
});
