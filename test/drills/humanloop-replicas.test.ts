/**
 * Human-loop drills with real coordinator processes on one database: a change made on one replica
 * reaches awaiters and watchers on the other; a replica whose LISTEN connection is killed
 * reconnects and catches up without losing a change; deadlines that pass while no coordinator runs
 * are enforced at the next start, and a waiting workflow resolves by itself.
 */
import { mkdtemp, rm, chmod } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { DecisionAuditAction } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { createKey } from "../../src/auth/keys.js";
import {
  createHumanLoop,
  DecisionStatus,
  ResponseAction,
  TimeoutPolicy,
  type DecisionOutcome,
  type HumanLoop,
  type HumanLoopOptions,
} from "../../src/client/index.js";
import { createTestDatabase, waitFor, type TestDatabase } from "../support/database.js";
import { freePort } from "../support/ports.js";
import { recordingLogger } from "../support/logger.js";
import { servingPort, type CoordinatorProcess } from "../support/process.js";
import {
  applicationName,
  auditOfWorkflow,
  CONFIRM,
  listenBackends,
  recordAwait,
  recordWatch,
  startReplica,
  type Recording,
} from "./humanloop-support.js";

/** The feed's safety-net poll (change-feed.ts, not configurable from the command line). */
const FEED_POLL_MS = 5_000;

describe("human-loop replica drills", function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let dir: string;
  const processes: CoordinatorProcess[] = [];
  const clients: HumanLoop[] = [];
  const recordings: Recording[] = [];

  beforeEach(async () => {
    database = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), "mcpc-hl-drill-"));
    await chmod(dir, 0o755);
  });
  afterEach(async () => {
    for (const recording of recordings.splice(0)) await recording.stop();
    for (const client of clients.splice(0)) client.close();
    for (const proc of processes.splice(0)) proc.kill();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  function replica(name: string, port: number): CoordinatorProcess {
    const proc = startReplica(database.connectionString, dir, name, port);
    processes.push(proc);
    return proc;
  }

  /** Two replicas, A and B, serving one database. */
  async function twoReplicas() {
    const [portA, portB] = [await freePort(), await freePort()];
    const [a, b] = [replica("a", portA), replica("b", portB)];
    await Promise.all([servingPort(a), servingPort(b)]);
    return { a, b, addressA: `127.0.0.1:${portA}`, addressB: `127.0.0.1:${portB}` };
  }

  function humanLoop(address: string, apiKey: string, extra: Partial<HumanLoopOptions> = {}): HumanLoop {
    const client = createHumanLoop({ address, apiKey, backoff: { initialMs: 100, maxMs: 500 }, ...extra });
    clients.push(client);
    return client;
  }

  function keep(recording: Recording): Recording {
    recordings.push(recording);
    return recording;
  }

  async function keys() {
    const [flow, alice, watcher] = await Promise.all([
      createKey(database.pool, { role: "workflow", principal: "ci" }),
      createKey(database.pool, { role: "operator", principal: "alice" }),
      createKey(database.pool, { role: "operator", principal: "watcher" }),
    ]);
    return { flow: flow.token, alice: alice.token, watcher: watcher.token };
  }

  /** The watch revisions must be exactly the audited changes of the workflow, in order. */
  async function expectWatchMatchesAudit(watch: Recording, workflowId: string): Promise<void> {
    const audit = await auditOfWorkflow(database.pool, workflowId);
    expect(
      watch.seen.map((s) => [s.id, s.revision]),
      "the watcher saw every audited change, once, in revision order",
    ).to.deep.equal(audit.map((row) => [row.decisionId, row.revision]));
  }

  it("cross-replica delivery: created and awaited on A, watched and answered on B", async () => {
    const { addressA, addressB } = await twoReplicas();
    const token = await keys();
    const workflowId = "cross-replica";
    const flowA = humanLoop(addressA, token.flow);
    const aliceB = humanLoop(addressB, token.alice);

    // A decision that exists before the watch starts: its arrival (in the catch-up) says the watch
    // on B is attached, so what comes next can only reach B through the change feed.
    const sentinel = (await flowA.create({ workflowId, title: "sentinel", spec: CONFIRM }, { requestKey: "cross/sentinel" })).decision;
    const watch = keep(recordWatch(addressB, token.watcher, { workflowId }));
    await watch.waitFor((s) => s.id === sentinel.id, { message: "the watch on B attached" });

    const outcome = flowA.requestDecision({ workflowId, title: "Deploy across replicas?", spec: CONFIRM }, { requestKey: "cross/deploy" });
    const pending = await watch.waitFor((s) => s.id !== sentinel.id, { message: "B's watcher sees the decision created on A" });
    expect(pending.status).to.equal(DecisionStatus.PENDING);

    // A second, raw awaiter on A, attached (it has the pending state) before the answer: the
    // completed state can only reach it from B through LISTEN/NOTIFY (or the 5 s poll).
    const awaiter = keep(recordAwait(addressA, token.flow, pending.id));
    await awaiter.waitFor((s) => s.status === DecisionStatus.PENDING, { message: "the awaiter on A attached" });

    const answeredAt = performance.now();
    await aliceB.respond(pending.id, { action: ResponseAction.ACCEPT, comment: "approved on B" });

    const result = await outcome;
    expect(result.status).to.equal("completed");
    const completed = result as Extract<DecisionOutcome, { status: "completed" }>;
    expect(completed.action).to.equal("accept");
    expect(completed.response.comment).to.equal("approved on B");
    expect(completed.decision.id).to.equal(pending.id);
    expect(completed.decision.responses.map((r) => r.responder)).to.deep.equal(["alice"]);

    await awaiter.done;
    expect(awaiter.error(), "the await stream ended OK").to.equal(undefined);
    expect(awaiter.seen.map((s) => s.status)).to.deep.equal([DecisionStatus.PENDING, DecisionStatus.COMPLETED]);
    const latency = awaiter.seen[1]!.at - answeredAt;
    expect(latency, "answer on B to awaiter on A (ms): notified, not polled").to.be.below(FEED_POLL_MS / 3);

    await watch.waitFor((s) => s.id === pending.id && s.status === DecisionStatus.COMPLETED, { message: "B's watcher sees the outcome" });
    await expectWatchMatchesAudit(watch, workflowId);
    const audit = await auditOfWorkflow(database.pool, workflowId);
    expect(awaiter.seen.map((s) => s.revision)).to.deep.equal(audit.filter((a) => a.decisionId === pending.id).map((a) => a.revision));
    expect(audit.filter((a) => a.decisionId === pending.id).map((a) => [a.action, a.actor])).to.deep.equal([
      [DecisionAuditAction.CREATED, "ci"],
      [DecisionAuditAction.ANSWERED, "alice"],
    ]);
  });

  it("a replica whose LISTEN connection is killed reconnects and catches up on what changed meanwhile", async () => {
    const { a, b, addressA, addressB } = await twoReplicas();
    const token = await keys();
    const workflowId = "listen-reconnect";
    const flowA = humanLoop(addressA, token.flow);
    const aliceA = humanLoop(addressA, token.alice);

    // One LISTEN connection per replica, told apart by application_name.
    const before = await listenBackends(database.pool);
    expect(before.map((l) => l.applicationName)).to.deep.equal([applicationName("a"), applicationName("b")]);
    const [listenerA, listenerB] = before as [(typeof before)[0], (typeof before)[0]];

    const sentinel = (await flowA.create({ workflowId, title: "sentinel", spec: CONFIRM }, { requestKey: "listen/sentinel" })).decision;
    const watch = keep(recordWatch(addressB, token.watcher, { workflowId }));
    await watch.waitFor((s) => s.id === sentinel.id, { message: "the watch on B attached" });

    const killedAt = performance.now();
    const { rows: killed } = await database.pool.query<{ pid: number; terminated: boolean }>(
      "SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 || ' decision-feed'",
      [applicationName("b")],
    );
    expect(killed).to.deep.equal([{ pid: listenerB.pid, terminated: true }]);

    // Changes on A right away, while B waits (500 ms) to LISTEN again; one change per decision,
    // so the catch-up read cannot coalesce them and the watch must show each one.
    const gap: string[] = [];
    for (let i = 1; i <= 3; i++) {
      gap.push((await flowA.create({ workflowId, title: `gap ${i}`, spec: CONFIRM }, { requestKey: `listen/gap-${i}` })).decision.id);
    }
    await aliceA.respond(sentinel.id, { action: ResponseAction.DECLINE, comment: "answered while B was deaf" });

    await b.waitForLog((r) => r.msg === "LISTEN connection lost; reconnecting", 10_000);
    const relisten = await waitFor(
      async () => {
        const now = await listenBackends(database.pool);
        const ofB = now.filter((l) => l.applicationName === applicationName("b"));
        return ofB.length === 1 && ofB[0]!.pid !== listenerB.pid ? { now, pid: ofB[0]!.pid } : undefined;
      },
      { timeoutMs: 10_000, message: "B opened a new LISTEN connection" },
    );
    expect(relisten.now.find((l) => l.applicationName === applicationName("a"))?.pid, "A's listener untouched").to.equal(listenerA.pid);

    // The changes really fell in the gap: made before B listened again (B logs that moment; the
    // test, B and PostgreSQL share this machine's clock).
    const restored = await b.waitForLog((r) => r.msg === "LISTEN connection restored; catching up", 10_000);
    const { rows: inGap } = await database.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM decisions d WHERE d.id = ANY($1::uuid[]) AND d.updated_at < $2::timestamptz",
      [[...gap, sentinel.id], restored.time as string],
    );
    expect(inGap[0]!.n, "changes made while B had no LISTEN connection").to.be.at.least(1);

    await watch.waitFor((s) => s.id === sentinel.id && s.status === DecisionStatus.COMPLETED, { message: "the answer made in the gap" });
    for (const id of gap) await watch.waitFor((s) => s.id === id, { message: `decision ${id} created in the gap` });
    // Delivered by the catch-up read right after the reconnect, well before the poll would have.
    expect(Math.max(...watch.seen.map((s) => s.at)) - killedAt, "gap changes reached B (ms)").to.be.below(FEED_POLL_MS / 2);

    // Notifications work again on the new connection: two consecutive changes each reach B within
    // 1.5 s. The poll (every 5 s) could deliver at most one of them that fast.
    const late = (await flowA.create({ workflowId, title: "after the reconnect", spec: CONFIRM }, { requestKey: "listen/late" })).decision;
    await watch.waitFor((s) => s.id === late.id, { timeoutMs: 1_500, message: "a change after the reconnect, notified" });
    await aliceA.respond(late.id, { action: ResponseAction.ACCEPT });
    await watch.waitFor((s) => s.id === late.id && s.status === DecisionStatus.COMPLETED, {
      timeoutMs: 1_500,
      message: "a second change after the reconnect, notified",
    });

    expect(watch.error()).to.equal(undefined);
    await expectWatchMatchesAudit(watch, workflowId);
    expect(
      a.logs.some((r) => r.msg === "LISTEN connection lost; reconnecting"),
      "A never lost its listener",
    ).to.equal(false);
  });

  it("deadlines that pass while the coordinator is down are enforced at its next start; the waiting client resolves", async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    let proc = replica("solo", port);
    await servingPort(proc);
    const { token } = await createKey(database.pool, { role: "workflow", principal: "ci" });
    const { warnings, logger } = recordingLogger();
    const flow = humanLoop(address, token, { logger });
    const workflowId = "expiry-restart";
    const timeout = durationFromMs(3_000);

    const defaulting = flow.requestDecision(
      {
        workflowId,
        title: "Declines by itself",
        spec: CONFIRM,
        timeout,
        onTimeout: TimeoutPolicy.APPLY_DEFAULT,
        defaultResponse: { action: ResponseAction.DECLINE, comment: "nobody answered" },
      },
      { requestKey: "expiry/default" },
    );
    const plain = (await flow.create({ workflowId, title: "Fails at the deadline", spec: CONFIRM, timeout }, { requestKey: "expiry/plain" }))
      .decision;
    const failing = flow.awaitDecision(plain.id);
    let settled = 0;
    for (const p of [defaulting, failing])
      void p.then(
        () => settled++,
        () => settled++,
      );
    const defaultId = await waitFor(async () => {
      const { rows } = await database.pool.query<{ id: string }>("SELECT id FROM decisions WHERE request_key = 'expiry/default'");
      return rows[0]?.id;
    });

    proc.child.kill("SIGKILL");
    await proc.exited();
    const state = async () =>
      (
        await database.pool.query<{ id: string; status: number; defaulted: boolean; due: boolean }>(
          "SELECT id, status, defaulted, now() > expires_at AS due FROM decisions WHERE workflow_id = $1 ORDER BY request_key",
          [workflowId],
        )
      ).rows;
    expect(
      (await state()).map((r) => [r.id, r.status, r.due]),
      "killed before the deadlines",
    ).to.deep.equal([
      [defaultId, DecisionStatus.PENDING, false],
      [plain.id, DecisionStatus.PENDING, false],
    ]);
    // Both clients noticed (a stream that failed with the coordinator, or, should the kill have
    // beaten CreateDecision's reply, a create being retried).
    await waitFor(() => warnings.filter((w) => /await stream failed|CreateDecision failed/.test(w)).length >= 2, {
      message: "both clients lost the coordinator",
    });

    // The deadlines pass (database clock) with no coordinator running: nothing expires them.
    await waitFor(async () => (await state()).every((r) => r.due), { timeoutMs: 10_000, message: "deadlines passed" });
    expect((await state()).map((r) => r.status)).to.deep.equal([DecisionStatus.PENDING, DecisionStatus.PENDING]);
    expect(settled, "the clients are still waiting").to.equal(0);
    const { rows: clock } = await database.pool.query<{ now: string }>("SELECT now()::text AS now");
    const restartedAfter = clock[0]!.now;

    proc = replica("solo", port);
    await servingPort(proc);
    const [byDefault, byFailure] = await Promise.all([defaulting, failing]);

    expect(byDefault.status).to.equal("expired");
    const expiredDefault = byDefault as Extract<DecisionOutcome, { status: "expired" }>;
    expect(expiredDefault.defaulted).to.equal(true);
    expect(expiredDefault.response?.action).to.equal(ResponseAction.DECLINE);
    expect(expiredDefault.response?.comment).to.equal("nobody answered");
    expect(expiredDefault.decision.id).to.equal(defaultId);
    expect(expiredDefault.decision.responses, "expiry is not a human answer").to.deep.equal([]);

    expect(byFailure).to.deep.include({ status: "expired", defaulted: false });
    expect((byFailure as Extract<DecisionOutcome, { status: "expired" }>).response).to.equal(undefined);
    expect(byFailure.decision.outcome).to.equal(undefined);

    expect((await state()).map((r) => [r.status, r.defaulted])).to.deep.equal([
      [DecisionStatus.EXPIRED, true],
      [DecisionStatus.EXPIRED, false],
    ]);
    const audit = await auditOfWorkflow(database.pool, workflowId);
    for (const [id, defaulted] of [
      [defaultId, true],
      [plain.id, false],
    ] as const) {
      const rows = audit.filter((a) => a.decisionId === id);
      expect(rows.map((a) => [a.action, a.actor])).to.deep.equal([
        [DecisionAuditAction.CREATED, "ci"],
        [DecisionAuditAction.EXPIRED, "system"],
      ]);
      expect(rows[1]!.details).to.deep.include({ defaulted });
    }
    // Expired by the restarted coordinator, not before the kill.
    const { rows: afterRestart } = await database.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM decision_audit a JOIN decisions d ON d.id = a.decision_id WHERE d.workflow_id = $1 AND a.action = $2 AND a.at > $3::timestamptz",
      [workflowId, DecisionAuditAction.EXPIRED, restartedAfter],
    );
    expect(afterRestart[0]!.n).to.equal(2);
  });
});
