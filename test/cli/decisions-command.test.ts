/**
 * `mcp-coordinator decisions ...` as an operator runs it: a real CLI process talking gRPC to a
 * coordinator. show, cancel, respond --json (and its refusals), list, watch, and one interactive
 * respond driven through stdin.
 */
import { expect } from "chai";
import { createKey } from "../../src/auth/keys.js";
import { createHumanLoop, DecisionStatus, FieldType, type HumanLoop } from "../../src/client/index.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { startCli, type CliSession } from "./cli-process.js";

const CONFIRM = { kind: { case: "confirmation" as const, value: {} } };

/** `mcp-coordinator decisions <args>`. */
function start(args: string[], env: Record<string, string>): CliSession {
  return startCli(["decisions", ...args], env);
}

describe("decisions command", function () {
  this.timeout(60_000);
  let server: TestCoordinator;
  let workflow: HumanLoop;
  let operatorKey: string;
  let env: Record<string, string>;
  let counter = 0;

  async function cli(args: string[], extraEnv: Record<string, string> = {}) {
    const session = start(["--address", server.address, ...args], { ...env, ...extraEnv });
    session.child.stdin!.end();
    const code = await session.exited();
    return { code, stdout: session.stdout(), stderr: session.stderr() };
  }

  async function pending(spec: Parameters<HumanLoop["create"]>[0]["spec"] = CONFIRM, title = "Deploy to production?") {
    const { decision } = await workflow.create({ requestKey: `cli-${++counter}`, workflowId: "deploy", title, spec });
    return decision;
  }

  before(async () => {
    server = await startTestCoordinator({}, { expirySweepMs: 100, decisionLimits: { minTimeoutMs: 100 } });
    const flowKey = await createKey(server.coordinator.pool, { role: "workflow", principal: "ci" });
    operatorKey = (await createKey(server.coordinator.pool, { role: "operator", principal: "alice" })).token;
    env = { MCPC_API_KEY: operatorKey };
    workflow = createHumanLoop({ address: server.address, apiKey: flowKey.token });
  });
  after(async () => {
    workflow.close();
    await server.stop();
  });

  it("shows a decision as a table and as JSON, never printing the key", async () => {
    const decision = await pending();
    const shown = await cli(["show", decision.id]);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.stdout).to.contain(decision.id).and.contain("pending").and.contain("Deploy to production?").and.contain("audit:");
    expect(shown.stdout + shown.stderr).to.not.contain(operatorKey);
    const json = await cli(["show", decision.id, "--json"]);
    const parsed = JSON.parse(json.stdout) as { decision: { id: string; status: string }; audit: unknown[] };
    expect(parsed.decision).to.include({ id: decision.id, status: "DECISION_STATUS_PENDING" });
    expect(parsed.audit).to.have.length(1);
  });

  it("needs a key, and says what a refusal means", async () => {
    const noKey = await cli(["show", "x"], { MCPC_API_KEY: "" });
    expect(noKey.code).to.equal(2);
    expect(noKey.stderr).to.contain("--api-key");
    const missing = await cli(["show", "00000000-0000-4000-8000-000000000000"]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain("NOT_FOUND");
    const badKey = await cli(["show", "x", "--api-key", "mcpc_wrong"]);
    expect(badKey.code).to.equal(1);
    expect(badKey.stderr).to.contain("UNAUTHENTICATED").and.not.contain("mcpc_wrong");
  });

  it("cancels with a reason", async () => {
    const decision = await pending();
    const cancelled = await cli(["cancel", decision.id, "--reason", "superseded"]);
    expect(cancelled.code, cancelled.stderr).to.equal(0);
    expect(cancelled.stdout).to.contain(`cancelled ${decision.id} (superseded)`);
    expect((await workflow.get(decision.id)).decision).to.deep.include({ status: DecisionStatus.CANCELLED, cancelReason: "superseded" });
  });

  it("responds with --json, refusing bad JSON, a bad answer and a late answer", async () => {
    const spec = { kind: { case: "selection" as const, value: { options: [{ value: "staging" }, { value: "prod" }] } } };
    const decision = await pending(spec);
    const garbage = await cli(["respond", decision.id, "--json", "{nope"]);
    expect(garbage.code).to.equal(2);
    const wrong = await cli(["respond", decision.id, "--json", '{"action":"RESPONSE_ACTION_ACCEPT","selection":{"values":["qa"]}}']);
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr).to.contain("INVALID_ARGUMENT: response.value.selection.values[0]");
    const answer = '{"action":"RESPONSE_ACTION_ACCEPT","selection":{"values":["prod"]},"comment":"ship"}';
    const ok = await cli(["respond", decision.id, "--json", answer, "--response-key", "k1"]);
    expect(ok.code, ok.stderr).to.equal(0);
    expect((JSON.parse(ok.stdout) as { status: string }).status).to.equal("DECISION_STATUS_COMPLETED");
    const retried = await cli(["respond", decision.id, "--json", answer, "--response-key", "k1"]);
    expect(retried.code, "same response key: safe to retry").to.equal(0);
    const late = await cli(["respond", decision.id, "--json", '{"action":"RESPONSE_ACTION_DECLINE"}']);
    expect(late.code).to.equal(1);
    expect(late.stderr).to.contain("FAILED_PRECONDITION");
  });

  it("lists decisions (once the server offers ListDecisions)", async function () {
    const decision = await pending(CONFIRM, "Listed decision");
    const listed = await cli(["list", "--status", "pending", "--workflow", "deploy"]);
    if (listed.stderr.includes("UNIMPLEMENTED")) {
      expect(listed.code).to.equal(1);
      this.skip();
    }
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout).to.contain(decision.id).and.contain("Listed decision");
    const json = await cli(["list", "--json", "--limit", "500"]);
    expect((JSON.parse(json.stdout) as { decisions: { id: string }[] }).decisions.map((d) => d.id)).to.include(decision.id);
  });

  it("watches: prints pending decisions, then their changes, until interrupted", async () => {
    const before = await pending(CONFIRM, "Already waiting");
    const watch = start(["--address", server.address, "watch", "--workflow", "deploy"], env);
    try {
      await watch.expectOutput(before.id);
      const fresh = await pending(CONFIRM, "Appears live");
      await watch.expectOutput(fresh.id);
      await workflow.cancel(fresh.id, "changed my mind");
      await watch.expectOutput("cancelled");
      watch.child.kill("SIGINT");
      expect(await watch.exited()).to.equal(0);
    } finally {
      watch.child.kill("SIGKILL");
    }
  });

  it("asks for a form answer field by field, showing validation errors and asking again", async () => {
    const spec = {
      kind: {
        case: "form" as const,
        value: {
          fields: [
            { name: "port", label: "Port", type: FieldType.INTEGER, required: true, minimum: 1, maximum: 65535 },
            { name: "env", type: FieldType.ENUM, required: true, options: [{ value: "staging" }, { value: "prod" }] },
            { name: "notify", type: FieldType.BOOLEAN },
            { name: "owner", type: FieldType.EMAIL, defaultValue: { kind: { case: "stringValue" as const, value: "ops@example.com" } } },
          ],
        },
      },
    };
    const decision = await pending(spec, "Server config");
    const session = start(["--address", server.address, "respond", decision.id], env);
    try {
      await session.expectOutput("[d]ecline? ");
      session.send("a");
      await session.expectOutput("Port (integer, required): ");
      session.send("abc");
      await session.expectOutput("response.value.form.port: expected a number");
      await session.expectOutput("Port (integer, required): ");
      session.send("70000");
      await session.expectOutput("over the maximum of 65535");
      session.send("8080");
      await session.expectOutput("env (enum, required): ");
      session.send("2");
      await session.expectOutput("notify (boolean, optional): ");
      session.send("");
      await session.expectOutput('owner (email, optional, default "ops@example.com"): ');
      session.send("");
      await session.expectOutput("Comment");
      session.send("looks right");
      expect(await session.exited(), session.stderr()).to.equal(0);
      expect(session.stdout()).to.contain(`answered ${decision.id}: now completed`);
    } finally {
      session.child.kill("SIGKILL");
    }
    const { decision: done } = await workflow.get(decision.id);
    expect(done.outcome!.value).to.deep.equal({ case: "form", value: { port: 8080, env: "prod", owner: "ops@example.com" } });
    expect(done.outcome!.comment).to.equal("looks right");
    expect(done.responses[0]!.responder).to.equal("alice");
  });

  it("takes answers piped in all at once (selection)", async () => {
    const spec = { kind: { case: "selection" as const, value: { multiple: true, options: [{ value: "a" }, { value: "b" }, { value: "c" }] } } };
    const decision = await pending(spec, "Pick some");
    const session = start(["--address", server.address, "respond", decision.id], env);
    session.child.stdin!.end("4\n1,3\n\n");
    expect(await session.exited(), session.stderr()).to.equal(0);
    expect(session.stdout()).to.contain("choose numbers from 1 to 3");
    const { decision: done } = await workflow.get(decision.id);
    expect(done.outcome!.value).to.deep.equal({ case: "selection", value: { $typeName: "coordinator.v1.SelectionValue", values: ["a", "c"] } });
  });
});
