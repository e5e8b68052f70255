/**
 * The human-loop client's single calls (respond, cancel, extend, get, list) ride out a coordinator
 * that is briefly away, without doing anything twice, and give up when told to.
 */
import { expect } from "chai";
import { Status } from "nice-grpc";
import { DecisionAuditAction } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { createHumanLoop, DecisionStatus, ResponseAction, type HumanLoop } from "../../src/client/index.js";
import { waitFor } from "../support/database.js";
import { recordingLogger } from "../support/logger.js";
import { createCoordinatorSite, type CoordinatorSite } from "./coordinator-on-database.js";

const CONFIRM = { kind: { case: "confirmation" as const, value: {} } };

describe("human-loop client: retries of single calls", function () {
  this.timeout(60_000);
  let site: CoordinatorSite;
  let workflow: HumanLoop;
  let operator: HumanLoop;
  let operatorLog: ReturnType<typeof recordingLogger>;
  let workflowLog: ReturnType<typeof recordingLogger>;
  let operatorToken: string;
  let counter = 0;

  before(async () => {
    site = await createCoordinatorSite();
    await site.start();
    const flowKey = await createKey(site.database.pool, { role: "workflow", principal: "ci" });
    operatorToken = (await createKey(site.database.pool, { role: "operator", principal: "alice" })).token;
    workflowLog = recordingLogger();
    operatorLog = recordingLogger();
    const backoff = { initialMs: 20, maxMs: 200 };
    workflow = createHumanLoop({ address: site.address, apiKey: flowKey.token, backoff, logger: workflowLog.logger });
    operator = createHumanLoop({ address: site.address, apiKey: operatorToken, backoff, logger: operatorLog.logger });
  });
  after(async () => {
    workflow.close();
    operator.close();
    await site.dispose();
  });
  beforeEach(async () => {
    if (!site.current) await site.start();
  });

  const create = async (title: string) =>
    (await workflow.create({ workflowId: "retries", title, spec: CONFIRM }, { requestKey: `retry-${process.pid}-${++counter}` })).decision;

  /** Stops the coordinator, starts `call`, waits until the client has retried, starts it again. */
  async function acrossRestart<T>(log: ReturnType<typeof recordingLogger>, what: string, call: () => Promise<T>): Promise<T> {
    await site.stop();
    const before = log.warnings.filter((w) => w === `${what} failed; retrying`).length;
    const result = call();
    result.catch(() => undefined);
    await waitFor(() => log.warnings.filter((w) => w === `${what} failed; retrying`).length > before, { timeoutMs: 10_000, message: `${what} retried` });
    await site.start();
    return result;
  }

  it("respond retries while the coordinator is down and answers exactly once", async () => {
    const decision = await create("answer me");
    const answered = await acrossRestart(operatorLog, "Respond", () => operator.respond(decision.id, { action: ResponseAction.ACCEPT }));
    expect(answered.status).to.equal(DecisionStatus.COMPLETED);
    const { rows } = await site.database.pool.query("SELECT count(*)::int AS n FROM decision_answers WHERE decision_id = $1", [decision.id]);
    expect(rows[0].n).to.equal(1);
  });

  it("respond repeated with the same response key returns the decision instead of a second answer", async () => {
    const decision = await create("twice");
    await operator.respond(decision.id, { action: ResponseAction.ACCEPT }, { responseKey: "same" });
    const again = await operator.respond(decision.id, { action: ResponseAction.ACCEPT }, { responseKey: "same" });
    expect(again.status).to.equal(DecisionStatus.COMPLETED);
    const other = await operator.respond(decision.id, { action: ResponseAction.ACCEPT }).catch((e: unknown) => e);
    expect((other as { code: Status }).code, "a new answer to a final decision").to.equal(Status.FAILED_PRECONDITION);
  });

  it("cancel retries while the coordinator is down", async () => {
    const decision = await create("cancel me");
    const cancelled = await acrossRestart(workflowLog, "CancelDecision", () => workflow.cancel(decision.id, "not needed"));
    expect(cancelled.status).to.equal(DecisionStatus.CANCELLED);
    expect(cancelled.cancelReason).to.equal("not needed");
  });

  it("extend by retries without adding the extension twice", async () => {
    const decision = await create("extend me");
    const before = decision.expiresAt!;
    const extended = await acrossRestart(workflowLog, "GetDecision", () => workflow.extend(decision.id, { by: 90_000 }));
    // Timestamps come back with microseconds; the client computes in milliseconds.
    const beforeMs = Number(before.seconds) * 1000 + Math.floor(before.nanos / 1e6);
    const afterMs = Number(extended.expiresAt!.seconds) * 1000 + Math.floor(extended.expiresAt!.nanos / 1e6);
    expect(afterMs - beforeMs).to.equal(90_000);
    const { audit } = await workflow.get(decision.id, { includeAudit: true });
    expect(audit.filter((entry) => entry.action === DecisionAuditAction.EXTENDED).length).to.equal(1);
  });

  it("gives up after callRetryMs with the transient error, and at once on abort", async () => {
    const decision = await create("nobody home");
    await site.stop();
    const impatient = createHumanLoop({ address: site.address, apiKey: operatorToken, callRetryMs: 300, backoff: { initialMs: 20, maxMs: 50 } });
    try {
      const started = Date.now();
      const error = await impatient.respond(decision.id, { action: ResponseAction.ACCEPT }).catch((e: unknown) => e);
      expect((error as { code: Status }).code).to.equal(Status.UNAVAILABLE);
      expect(Date.now() - started, "retried for a while first").to.be.at.least(300);

      const controller = new AbortController();
      const pending = operator.get(decision.id, { signal: controller.signal }).catch((e: unknown) => e);
      await waitFor(() => operatorLog.warnings.includes("GetDecision failed; retrying"), { timeoutMs: 10_000, message: "get retried" });
      controller.abort();
      expect(((await pending) as Error).name).to.equal("AbortError");
    } finally {
      impatient.close();
    }
  });
});
