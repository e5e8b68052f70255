/**
 * HumanLoopService over real gRPC and a real database: create (idempotent), respond, cancel,
 * extend, expiry with and without the default, await (including reattach after the end), watch
 * resume, policies, permissions, and the answer/cancel/deadline race.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { Status, type Channel } from "nice-grpc";
import { CreateDecisionRequestSchema } from "../../gen/coordinator/v1/decision_commands_pb.js";
import { DecisionAuditAction } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { DecisionStatus, type Decision } from "../../gen/coordinator/v1/decision_pb.js";
import { TimeoutPolicy } from "../../gen/coordinator/v1/decision_policy_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";

type Client = ReturnType<typeof clientFor<(typeof HumanLoopService)["method"]>>["client"];

const ACCEPT = { action: ResponseAction.ACCEPT };
const DECLINE = { action: ResponseAction.DECLINE };

describe("HumanLoopService", function () {
  this.timeout(30_000);
  let server: TestCoordinator;
  const channels: Channel[] = [];
  const clients: Record<string, Client> = {};
  let counter = 0;

  /** A client acting as a new key of `role` for `principal`. */
  async function as(role: "workflow" | "operator" | "admin", principal: string): Promise<Client> {
    const key = `${role}:${principal}`;
    if (!clients[key]) {
      const { token } = await createKey(server.coordinator.pool, { role, principal });
      const { client, channel } = clientFor(HumanLoopService, server.address, token);
      channels.push(channel);
      clients[key] = client;
    }
    return clients[key];
  }

  function request(overrides: Record<string, unknown> = {}) {
    counter++;
    return create(CreateDecisionRequestSchema, {
      requestKey: `run-${counter}/approve`,
      workflowId: "deploy",
      title: "Deploy to production?",
      spec: { kind: { case: "confirmation", value: {} } },
      ...overrides,
    } as MessageInitShape<typeof CreateDecisionRequestSchema>);
  }

  async function code(promise: Promise<unknown>): Promise<{ code: Status; details: string }> {
    try {
      await promise;
    } catch (error) {
      return error as { code: Status; details: string };
    }
    throw new Error("expected the call to fail");
  }

  before(async () => {
    server = await startTestCoordinator({}, { expirySweepMs: 100, decisionLimits: { minTimeoutMs: 100 } });
  });
  after(async () => {
    for (const channel of channels) channel.close();
    await server.stop();
  });

  it("creates idempotently on request_key, and refuses the key with another body", async () => {
    const flow = await as("workflow", "ci");
    const req = request();
    const first = await flow.createDecision(req);
    expect(first.created).to.equal(true);
    expect(first.decision!.status).to.equal(DecisionStatus.PENDING);
    expect(first.decision!.createdBy).to.equal("ci");
    const again = await flow.createDecision(req);
    expect(again.created).to.equal(false);
    expect(again.decision!.id).to.equal(first.decision!.id);
    const other = await code(flow.createDecision({ ...req, title: "Something else" }));
    expect(other.code).to.equal(Status.ALREADY_EXISTS);
  });

  it("refuses an invalid spec naming the field, and stores nothing", async () => {
    const flow = await as("workflow", "ci");
    const bad = request({ spec: { kind: { case: "selection", value: { options: [{ value: "a" }, { value: "a" }] } } } });
    const error = await code(flow.createDecision(bad));
    expect(error.code).to.equal(Status.INVALID_ARGUMENT);
    expect(error.details).to.match(/^spec\.selection\.options\[1\]\.value/);
    const { rows } = await server.coordinator.pool.query("SELECT count(*)::int AS n FROM decisions WHERE request_key = $1", [bad.requestKey]);
    expect(rows[0].n).to.equal(0);
  });

  it("completes on a valid answer; a bad answer changes nothing; a second answer is refused", async () => {
    const flow = await as("workflow", "ci");
    const alice = await as("operator", "alice");
    const bob = await as("operator", "bob");
    const spec = { kind: { case: "selection" as const, value: { options: [{ value: "staging" }, { value: "prod" }] } } };
    const { decision } = await flow.createDecision(request({ spec }));
    const bad = await code(alice.respond({ decisionId: decision!.id, response: { ...ACCEPT, value: { case: "selection", value: { values: ["qa"] } } } }));
    expect(bad.code).to.equal(Status.INVALID_ARGUMENT);
    expect(bad.details).to.match(/^response\.value\.selection\.values\[0\]/);
    expect((await flow.getDecision({ decisionId: decision!.id })).decision!.status).to.equal(DecisionStatus.PENDING);
    const done = await alice.respond({ decisionId: decision!.id, response: { ...ACCEPT, value: { case: "selection", value: { values: ["prod"] } } } });
    expect(done.decision!.status).to.equal(DecisionStatus.COMPLETED);
    expect(done.decision!.outcome!.value).to.deep.include({ case: "selection" });
    expect(done.decision!.responses.map((r) => r.responder)).to.deep.equal(["alice"]);
    const late = await code(bob.respond({ decisionId: decision!.id, response: DECLINE }));
    expect(late.code).to.equal(Status.FAILED_PRECONDITION);
    expect(late.details).to.match(/already completed/);
  });

  it("is idempotent on response_key, even after the decision completed", async () => {
    const flow = await as("workflow", "ci");
    const alice = await as("operator", "alice");
    const { decision } = await flow.createDecision(request());
    const first = await alice.respond({ decisionId: decision!.id, response: ACCEPT, responseKey: "k1" });
    const retry = await alice.respond({ decisionId: decision!.id, response: ACCEPT, responseKey: "k1" });
    expect(retry.decision!.revision).to.equal(first.decision!.revision);
    expect(retry.decision!.responses).to.have.length(1);
    const changed = await code(alice.respond({ decisionId: decision!.id, response: DECLINE, responseKey: "k1" }));
    expect(changed.code).to.equal(Status.ALREADY_EXISTS);
  });

  it("lets only assignees (or admins) answer, and forbids the creator when asked", async () => {
    const flow = await as("workflow", "ci");
    const mallory = await as("operator", "mallory");
    const admin = await as("admin", "root");
    const { decision } = await flow.createDecision(request({ assignees: ["alice"] }));
    expect((await code(mallory.respond({ decisionId: decision!.id, response: ACCEPT }))).code).to.equal(Status.PERMISSION_DENIED);
    expect((await admin.respond({ decisionId: decision!.id, response: ACCEPT })).decision!.status).to.equal(DecisionStatus.COMPLETED);

    const selfApprover = await as("admin", "ci-admin");
    const own = await selfApprover.createDecision(request({ forbidCreatorResponse: true }));
    const refused = await code(selfApprover.respond({ decisionId: own.decision!.id, response: ACCEPT }));
    expect(refused.code).to.equal(Status.PERMISSION_DENIED);
    expect(refused.details).to.match(/forbids its creator/);
  });

  it("applies the all and quorum policies, keeping every answer", async () => {
    const flow = await as("workflow", "ci");
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((p) => as("operator", p)));
    const all = (await flow.createDecision(request({ assignees: ["alice", "bob"], approval: { rule: { case: "all", value: {} } } }))).decision!;
    expect((await alice!.respond({ decisionId: all.id, response: ACCEPT })).decision!.status).to.equal(DecisionStatus.PENDING);
    const allDone = (await bob!.respond({ decisionId: all.id, response: ACCEPT })).decision!;
    expect(allDone.status).to.equal(DecisionStatus.COMPLETED);
    expect(allDone.responses).to.have.length(2);

    const quorum = (await flow.createDecision(request({ assignees: ["alice", "bob", "carol"], approval: { rule: { case: "quorum", value: { required: 2, veto: false } } } }))).decision!;
    expect((await alice!.respond({ decisionId: quorum.id, response: DECLINE })).decision!.status).to.equal(DecisionStatus.PENDING);
    expect((await bob!.respond({ decisionId: quorum.id, response: ACCEPT })).decision!.status).to.equal(DecisionStatus.PENDING);
    const quorumDone = (await carol!.respond({ decisionId: quorum.id, response: ACCEPT })).decision!;
    expect(quorumDone.status).to.equal(DecisionStatus.COMPLETED);
    expect(quorumDone.outcome!.action).to.equal(ResponseAction.ACCEPT);

    const veto = (await flow.createDecision(request({ approval: { rule: { case: "quorum", value: { required: 2, veto: true } } } }))).decision!;
    const vetoed = (await alice!.respond({ decisionId: veto.id, response: DECLINE })).decision!;
    expect(vetoed.status).to.equal(DecisionStatus.COMPLETED);
    expect(vetoed.outcome!.action).to.equal(ResponseAction.DECLINE);
  });

  it("expires at the deadline, applying the default when the policy says so", async () => {
    const flow = await as("workflow", "ci");
    const plain = (await flow.createDecision(request({ timeout: durationFromMs(200) }))).decision!;
    const defaulted = (
      await flow.createDecision(request({ timeout: durationFromMs(200), onTimeout: TimeoutPolicy.APPLY_DEFAULT, defaultResponse: DECLINE }))
    ).decision!;
    const final = async (id: string) => {
      let d: Decision | undefined;
      await waitFor(async () => (d = (await flow.getDecision({ decisionId: id })).decision!).status === DecisionStatus.EXPIRED, { message: "expiry" });
      return d!;
    };
    const a = await final(plain.id);
    expect(a.defaulted).to.equal(false);
    expect(a.outcome).to.equal(undefined);
    const b = await final(defaulted.id);
    expect(b.defaulted).to.equal(true);
    expect(b.outcome!.action).to.equal(ResponseAction.DECLINE);
    const audit = (await flow.getDecision({ decisionId: b.id, includeAudit: true })).audit;
    expect(audit.map((e) => e.action)).to.deep.equal([DecisionAuditAction.CREATED, DecisionAuditAction.EXPIRED]);
    expect(audit[1]!.actor).to.equal("system");
  });

  it("cancels (idempotently) and extends, with audit rows; workflows only their own", async () => {
    const flow = await as("workflow", "ci");
    const otherFlow = await as("workflow", "other");
    const { decision } = await flow.createDecision(request());
    expect((await code(otherFlow.cancelDecision({ decisionId: decision!.id }))).code).to.equal(Status.PERMISSION_DENIED);
    const extended = await flow.extendDeadline({ decisionId: decision!.id, deadline: { case: "extendBy", value: durationFromMs(60_000) } });
    expect(Number(extended.decision!.expiresAt!.seconds)).to.be.greaterThan(Number(decision!.expiresAt!.seconds));
    const cancelled = await flow.cancelDecision({ decisionId: decision!.id, reason: "superseded" });
    expect(cancelled.decision!.status).to.equal(DecisionStatus.CANCELLED);
    expect(cancelled.decision!.cancelledBy).to.equal("ci");
    const again = await flow.cancelDecision({ decisionId: decision!.id, reason: "again" });
    expect(again.decision!.revision).to.equal(cancelled.decision!.revision);
    const { audit } = await flow.getDecision({ decisionId: decision!.id, includeAudit: true });
    expect(audit.map((e) => e.action)).to.deep.equal([DecisionAuditAction.CREATED, DecisionAuditAction.EXTENDED, DecisionAuditAction.CANCELLED]);
  });

  it("AwaitDecision sends the current state, then changes, ends at the final state; reattaching later gets it at once", async () => {
    const flow = await as("workflow", "ci");
    const alice = await as("operator", "alice");
    const { decision } = await flow.createDecision(request());
    const seen: Decision[] = [];
    const following = (async () => {
      for await (const { decision: d } of flow.awaitDecision({ decisionId: decision!.id })) seen.push(d!);
    })();
    await waitFor(async () => seen.length === 1, { message: "first state" });
    expect(seen[0]!.status).to.equal(DecisionStatus.PENDING);
    await alice.respond({ decisionId: decision!.id, response: ACCEPT });
    await following;
    expect(seen.map((d) => d.status)).to.deep.equal([DecisionStatus.PENDING, DecisionStatus.COMPLETED]);
    const later: Decision[] = [];
    for await (const { decision: d } of flow.awaitDecision({ decisionId: decision!.id })) later.push(d!);
    expect(later.map((d) => d.status)).to.deep.equal([DecisionStatus.COMPLETED]);
    expect((await code(drain(flow.awaitDecision({ decisionId: "00000000-0000-4000-8000-000000000000" })))).code).to.equal(Status.NOT_FOUND);
  });

  it("WatchDecisions resumes after a revision without missing a change (checked against the audit table)", async () => {
    const flow = await as("workflow", "ci");
    const alice = await as("operator", "alice");
    const start = (await flow.createDecision(request())).decision!.revision;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await flow.createDecision(request({ workflowId: "watched" }))).decision!.id);
    await alice.respond({ decisionId: ids[0]!, response: ACCEPT });
    await flow.cancelDecision({ decisionId: ids[1]! });
    const watcher = await as("operator", "watcher");
    const received: { id: string; revision: bigint }[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      for await (const change of watcher.watchDecisions({ afterRevision: start, workflowId: "watched" }, { signal: abort.signal })) {
        received.push({ id: change.decision!.id, revision: change.revision });
      }
    })().catch(() => undefined);
    // Live changes after the catch-up.
    await waitFor(async () => received.length >= 5, { message: "catch-up" });
    await alice.respond({ decisionId: ids[2]!, response: DECLINE });
    const late = (await flow.createDecision(request({ workflowId: "watched" }))).decision!;
    await waitFor(async () => received.some((r) => r.id === late.id), { message: "live change" });
    abort.abort();
    await watching;
    const revisions = received.map((r) => r.revision);
    expect([...revisions].sort((a, b) => (a < b ? -1 : 1))).to.deep.equal(revisions);
    expect(new Set(revisions).size).to.equal(revisions.length);
    // Every audited change after `start` is covered: its decision was sent at that revision or later.
    const { rows } = await server.coordinator.pool.query<{ decision_id: string; revision: string }>(
      "SELECT a.decision_id, a.revision FROM decision_audit a JOIN decisions d ON d.id = a.decision_id WHERE a.revision > $1 AND d.workflow_id = 'watched'",
      [start.toString()],
    );
    for (const row of rows) {
      expect(received.some((r) => r.id === row.decision_id && r.revision >= BigInt(row.revision)), `change ${row.revision} of ${row.decision_id}`).to.equal(true);
    }
    // And the audit it was checked against cannot be rewritten.
    const erase = await server.coordinator.pool.query("DELETE FROM decision_audit").catch((e: Error) => e);
    expect((erase as Error).message).to.equal("decision_audit is append-only (DELETE refused)");
  });

  it("one outcome when answers, a cancel and the deadline race", async () => {
    const flow = await as("workflow", "ci");
    const operators = await Promise.all(Array.from({ length: 8 }, (_, i) => as("operator", `racer-${i}`)));
    for (let round = 0; round < 3; round++) {
      const { decision } = await flow.createDecision(request({ timeout: durationFromMs(300) }));
      const id = decision!.id;
      await new Promise((resolve) => setTimeout(resolve, 290 - Number(round) * 10));
      const attempts = [
        ...operators.map((op) => op.respond({ decisionId: id, response: ACCEPT })),
        flow.cancelDecision({ decisionId: id, reason: "race" }),
      ];
      const results = await Promise.allSettled(attempts);
      const final = (await flow.getDecision({ decisionId: id, includeAudit: true }));
      expect(final.decision!.status).to.not.equal(DecisionStatus.PENDING);
      const transitions = final.audit.filter((e) => e.action !== DecisionAuditAction.CREATED);
      expect(transitions, "exactly one change out of PENDING").to.have.length(1);
      const succeeded = results.filter((r) => r.status === "fulfilled").length;
      // Only the transition's author (if not the expiry) succeeded; every other attempt was refused.
      expect(succeeded).to.equal(final.decision!.status === DecisionStatus.EXPIRED ? 0 : 1);
      for (const r of results) if (r.status === "rejected") expect((r.reason as { code: Status }).code).to.equal(Status.FAILED_PRECONDITION);
    }
  });
});

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}
