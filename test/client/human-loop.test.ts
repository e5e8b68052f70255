/**
 * The human-loop client against a real coordinator: requestDecision resolves with the typed
 * outcome (completed, expired with the default, cancelled), refuses bad requests, honours abort,
 * and keeps waiting across a kill -9 of the coordinator; watch resumes after a restart without
 * missing a change made while it was disconnected.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { Status } from "nice-grpc";
import { createKey } from "../../src/auth/keys.js";
import {
  createHumanLoop,
  DecisionStatus,
  ResponseAction,
  TimeoutPolicy,
  type Decision,
  type DecisionOutcome,
  type HumanLoop,
} from "../../src/client/index.js";
import { startCoordinator, type Coordinator } from "../../src/coordinator.js";
import { startTestCoordinator, testConfig, type TestCoordinator } from "../support/coordinator.js";
import { createTestDatabase, waitFor, type TestDatabase } from "../support/database.js";
import { recordingLogger, testLogger } from "../support/logger.js";
import { freePort } from "../support/ports.js";
import { runCoordinator, servingPort, type CoordinatorProcess } from "../support/process.js";

const CONFIRM = { kind: { case: "confirmation" as const, value: {} } };
let counter = 0;
const key = () => `client-test-${process.pid}-${++counter}`;

describe("human-loop client", function () {
  this.timeout(60_000);

  describe("against an in-process coordinator", () => {
    let server: TestCoordinator;
    let workflow: HumanLoop;
    let operator: HumanLoop;

    before(async () => {
      server = await startTestCoordinator({}, { expirySweepMs: 100, decisionLimits: { minTimeoutMs: 100 } });
      const flowKey = await createKey(server.coordinator.pool, { role: "workflow", principal: "ci" });
      const opKey = await createKey(server.coordinator.pool, { role: "operator", principal: "alice" });
      workflow = createHumanLoop({ address: server.address, apiKey: flowKey.token });
      operator = createHumanLoop({ address: server.address, apiKey: opKey.token });
    });
    after(async () => {
      workflow.close();
      operator.close();
      await server.stop();
    });

    it("resolves completed with the operator's answer", async () => {
      const requestKey = key();
      const pending = workflow.requestDecision({ workflowId: "deploy", title: "Ship it?", spec: CONFIRM }, { requestKey });
      let settled = false;
      void pending.then(() => (settled = true), () => (settled = true));
      const decision = await waitFor(() => findByKey(requestKey));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(settled, "never resolves early").to.equal(false);
      await operator.respond(decision.id, { action: ResponseAction.ACCEPT, comment: "go" }, { responseKey: "r1" });
      const outcome = await pending;
      expect(outcome.status).to.equal("completed");
      const completed = outcome as Extract<DecisionOutcome, { status: "completed" }>;
      expect(completed.action).to.equal("accept");
      expect(completed.response.comment).to.equal("go");
      expect(completed.decision.responses.map((r) => r.responder)).to.deep.equal(["alice"]);
      // Asking again with the same key returns the same, already final, decision.
      const again = await workflow.requestDecision({ requestKey, workflowId: "deploy", title: "Ship it?", spec: CONFIRM });
      expect(again.decision.id).to.equal(decision.id);
    });

    it("resolves expired with the default response applied", async () => {
      const outcome = await workflow.requestDecision({
        requestKey: key(),
        workflowId: "deploy",
        title: "Timeout?",
        spec: CONFIRM,
        timeout: durationFromMs(300),
        onTimeout: TimeoutPolicy.APPLY_DEFAULT,
        defaultResponse: { action: ResponseAction.DECLINE },
      });
      expect(outcome.status).to.equal("expired");
      const expired = outcome as Extract<DecisionOutcome, { status: "expired" }>;
      expect(expired.defaulted).to.equal(true);
      expect(expired.response!.action).to.equal(ResponseAction.DECLINE);

      const plain = await workflow.requestDecision({ requestKey: key(), workflowId: "deploy", title: "t", spec: CONFIRM, timeout: durationFromMs(200) });
      expect(plain).to.deep.include({ status: "expired", defaulted: false });
    });

    it("resolves cancelled with the reason, and extends and gets on the way", async () => {
      const requestKey = key();
      const pending = workflow.requestDecision({ requestKey, workflowId: "deploy", title: "Cancel me", spec: CONFIRM });
      const decision = await waitFor(() => findByKey(requestKey));
      const before = decision.expiresAt!.seconds;
      const extended = await workflow.extend(decision.id, { by: 60_000 });
      expect(extended.expiresAt!.seconds - before).to.equal(60n);
      await workflow.cancel(decision.id, "superseded");
      const outcome = await pending;
      expect(outcome).to.deep.include({ status: "cancelled", reason: "superseded" });
      const { audit } = await workflow.get(decision.id, { includeAudit: true });
      expect(audit.length).to.be.at.least(3);
    });

    it("rejects a bad request with the gRPC error, and an aborted wait with an AbortError", async () => {
      const bad = await workflow.requestDecision({ requestKey: key(), workflowId: "", title: "x", spec: CONFIRM }).catch((e: unknown) => e);
      expect((bad as { code: Status }).code).to.equal(Status.INVALID_ARGUMENT);
      const noKey = await workflow.requestDecision({ workflowId: "w", title: "x", spec: CONFIRM }).catch((e: unknown) => e);
      expect(noKey).to.be.instanceOf(TypeError);
      const denied = await operator.requestDecision({ requestKey: key(), workflowId: "w", title: "x", spec: CONFIRM }).catch((e: unknown) => e);
      expect((denied as { code: Status }).code).to.equal(Status.PERMISSION_DENIED);

      const controller = new AbortController();
      const waiting = workflow.requestDecision({ requestKey: key(), workflowId: "w", title: "x", spec: CONFIRM }, { signal: controller.signal });
      setTimeout(() => controller.abort(), 200);
      const aborted = await waiting.catch((e: unknown) => e);
      expect((aborted as Error).name).to.equal("AbortError");
    });

    async function findByKey(requestKey: string): Promise<Decision | undefined> {
      const { rows } = await server.coordinator.pool.query("SELECT id FROM decisions WHERE request_key = $1", [requestKey]);
      return rows[0] ? (await workflow.get(rows[0].id as string)).decision : undefined;
    }
  });

  describe("across a coordinator restart (kill -9)", function () {
    this.timeout(180_000);
    let database: TestDatabase;
    let dir: string;
    let port: number;
    let proc: CoordinatorProcess | undefined;
    /** A second replica in this process, on the same database: it answers while the first is down. */
    let replica: Coordinator;
    let replicaAddress: string;

    function startProcess(): CoordinatorProcess {
      proc = runCoordinator(["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", path.join(dir, "a"), "--shutdown-grace", "2s"], {
        DATABASE_URL: database.connectionString,
      });
      return proc;
    }
    async function kill9(): Promise<void> {
      proc!.child.kill("SIGKILL");
      await proc!.exited();
    }

    beforeEach(async () => {
      database = await createTestDatabase();
      dir = await mkdtemp(path.join(os.tmpdir(), "mcpc-hl-client-"));
      port = await freePort();
      await servingPort(startProcess());
      replica = await startCoordinator(testConfig({ listen: "127.0.0.1:0", databaseUrl: database.connectionString, dataDir: path.join(dir, "b") }), {
        logger: testLogger(),
      });
      replicaAddress = `127.0.0.1:${replica.port}`;
    });
    afterEach(async () => {
      proc?.kill();
      await replica.shutdown();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    });

    async function clients() {
      const flowKey = await createKey(database.pool, { role: "workflow", principal: "ci" });
      const opKey = await createKey(database.pool, { role: "operator", principal: "alice" });
      const { warnings, logger } = recordingLogger();
      const backoff = { initialMs: 100, maxMs: 1_000 };
      return {
        warnings,
        workflow: createHumanLoop({ address: `127.0.0.1:${port}`, apiKey: flowKey.token, logger, backoff }),
        watcher: createHumanLoop({ address: `127.0.0.1:${port}`, apiKey: opKey.token, logger, backoff }),
        operator: createHumanLoop({ address: replicaAddress, apiKey: opKey.token }),
        replicaFlow: createHumanLoop({ address: replicaAddress, apiKey: flowKey.token }),
      };
    }

    it("requestDecision keeps waiting while the coordinator is killed and restarted, then resolves with the answer", async () => {
      const { workflow, watcher, operator, replicaFlow, warnings } = await clients();
      try {
        const requestKey = key();
        const pending = workflow.requestDecision({ requestKey, workflowId: "deploy", title: "Across restarts", spec: CONFIRM });
        let settled = false;
        void pending.then(() => (settled = true), () => (settled = true));
        const { rows } = await waitFor(async () => {
          const result = await database.pool.query("SELECT id FROM decisions WHERE request_key = $1", [requestKey]);
          return result.rowCount ? result : undefined;
        });
        const id = rows[0].id as string;
        await new Promise((resolve) => setTimeout(resolve, 200));
        await kill9();
        await waitFor(() => warnings.some((w) => /await stream failed/.test(w)), { message: "the client saw the stream fail" });
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(settled, "still waiting while the coordinator is down").to.equal(false);

        await servingPort(startProcess());
        // Answered through the other replica: the restarted one's await must pick it up either way.
        await operator.respond(id, { action: ResponseAction.DECLINE, comment: "not today" });
        const outcome = await pending;
        expect(outcome).to.deep.include({ status: "completed", action: "decline" });
        expect(outcome.decision.id).to.equal(id);
      } finally {
        workflow.close();
        watcher.close();
        operator.close();
        replicaFlow.close();
      }
    });

    it("watch resumes after a restart from the last revision, without missing a change made while it was down", async () => {
      const { workflow, watcher, operator, replicaFlow, warnings } = await clients();
      const controller = new AbortController();
      const create = async (title: string) =>
        (await replicaFlow.create({ requestKey: key(), workflowId: "watched", title, spec: CONFIRM })).decision;
      try {
        const first = await create("first");
        const seen: Decision[] = [];
        const watching = (async () => {
          for await (const decision of watcher.watch({ workflowId: "watched", signal: controller.signal })) seen.push(decision);
        })();
        await waitFor(() => seen.some((d) => d.id === first.id), { message: "the pending decision" });

        await kill9();
        await waitFor(() => warnings.some((w) => /watch stream failed/.test(w)), { message: "the watch saw the stream fail" });
        // Changes while the watcher's coordinator is down, made through the other replica.
        await operator.respond(first.id, { action: ResponseAction.ACCEPT });
        const second = await create("second");

        await servingPort(startProcess());
        await waitFor(() => seen.some((d) => d.id === first.id && d.status === DecisionStatus.COMPLETED) && seen.some((d) => d.id === second.id), {
          timeoutMs: 20_000,
          message: "the changes made while disconnected",
        });
        // And live changes keep coming on the new stream.
        const third = await create("third");
        await waitFor(() => seen.some((d) => d.id === third.id), { message: "a live change after the restart" });

        const revisions = seen.map((d) => d.revision);
        expect([...revisions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), "in revision order").to.deep.equal(revisions);
        expect(new Set(revisions).size, "no change delivered twice").to.equal(revisions.length);
        controller.abort();
        await watching;
      } finally {
        controller.abort();
        workflow.close();
        watcher.close();
        operator.close();
        replicaFlow.close();
      }
    });
  });
});
