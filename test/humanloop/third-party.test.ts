/**
 * A client that is not ours on HumanLoopService: buf curl (through reflection, JSON in and out)
 * lists the templates, creates a decision from one, awaits it over the server stream while an
 * operator answers (also with buf curl), and reads it back with its audit trail.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { expect } from "chai";
import { createKey } from "../../src/auth/keys.js";
import { bufCurl, type BufCurlResult } from "../support/buf-curl.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";

const BUF = path.resolve(import.meta.dirname, "../../node_modules/.bin/buf");

/** A JSON object as buf curl prints it (protobuf JSON: enums by name, int64 as strings). */
type Json = Record<string, any>;

/** Splits buf curl's output (each message as pretty JSON, one after another) into messages. */
function messages(stdout: string): Json[] {
  const text = stdout.trim();
  return text === "" ? [] : text.split(/\n(?=\{)/).map((part) => JSON.parse(part) as Json);
}

/** A buf curl run whose output can be read while it runs (a server stream). */
interface LiveCurl {
  stdout(): string;
  stderr(): string;
  /** Resolves when buf curl exits. */
  result: Promise<BufCurlResult>;
  kill(): void;
}

function liveBufCurl(args: string[]): LiveCurl {
  const child = spawn(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<BufCurlResult>((resolve) => child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr })));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    result,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

describe("third-party clients on HumanLoopService (buf curl)", function () {
  this.timeout(30_000);
  let server: TestCoordinator;
  let workflowToken: string;
  let operatorToken: string;
  const running: LiveCurl[] = [];

  before(async () => {
    server = await startTestCoordinator();
    workflowToken = (await createKey(server.coordinator.pool, { role: "workflow", principal: "ci" })).token;
    operatorToken = (await createKey(server.coordinator.pool, { role: "operator", principal: "alice" })).token;
  });
  afterEach(() => {
    for (const curl of running.splice(0)) curl.kill();
  });
  after(async () => {
    await server.stop();
  });

  const url = (method: string) => `http://${server.address}/coordinator.v1.HumanLoopService/${method}`;

  /** One unary call; returns the response message, failing with buf curl's stderr. */
  async function call(method: string, token: string, body: unknown): Promise<Json> {
    const result = await bufCurl(["-H", `authorization: Bearer ${token}`, "-d", JSON.stringify(body), url(method)]);
    expect(result.code, `${method}: ${result.stderr}`).to.equal(0);
    return JSON.parse(result.stdout) as Json;
  }

  it("ListTemplates returns the four templates as ready-to-fill CreateDecision requests", async () => {
    const { templates } = await call("ListTemplates", workflowToken, {});
    expect(templates.map((t: Json) => t.name)).to.deep.equal(["config-file-upload", "confirm", "select-environment", "server-config"]);
    for (const template of templates as Json[]) {
      expect(template.description, template.name).to.be.a("string").and.not.equal("");
      expect(template.prototype.title, template.name).to.be.a("string").and.not.equal("");
      expect(Object.keys(template.prototype.spec), template.name).to.have.length(1);
      expect(template.prototype, `${template.name}: left for the caller`).to.not.have.any.keys("requestKey", "workflowId");
    }
    const kinds = Object.fromEntries(templates.map((t: Json) => [t.name, Object.keys(t.prototype.spec)[0]]));
    expect(kinds).to.deep.equal({
      "config-file-upload": "fileUpload",
      confirm: "confirmation",
      "select-environment": "selection",
      "server-config": "form",
    });
  });

  it("creates a decision from a template, awaits it (pending, then completed) while an operator answers, and reads it back", async () => {
    // The workflow side: fill in a template's prototype and create it.
    const { templates } = await call("ListTemplates", workflowToken, {});
    const prototype = (templates as Json[]).find((t) => t.name === "confirm")!.prototype as Json;
    const request = { ...prototype, requestKey: "curl-run-1/confirm", workflowId: "curl-workflow", title: "Deploy from a shell?" };
    const created = await call("CreateDecision", workflowToken, request);
    expect(created.created).to.equal(true);
    const decision = created.decision as Json;
    expect(decision).to.deep.include({
      status: "DECISION_STATUS_PENDING",
      workflowId: "curl-workflow",
      createdBy: "ci",
      onTimeout: "TIMEOUT_POLICY_APPLY_DEFAULT",
    });
    expect(decision.spec).to.have.property("confirmation");
    // Idempotent for this client too: the same request again returns the same decision.
    const again = await call("CreateDecision", workflowToken, request);
    expect(again.created ?? false).to.equal(false);
    expect(again.decision.id).to.equal(decision.id);

    // Await over the server stream; buf curl prints each state as it arrives.
    const awaiting = liveBufCurl([
      "-H",
      `authorization: Bearer ${workflowToken}`,
      "-d",
      JSON.stringify({ decisionId: decision.id }),
      url("AwaitDecision"),
    ]);
    running.push(awaiting);
    // The server subscribes to changes before it reads and sends the current state, so once the
    // pending state is printed, the answer below can only arrive as a later message.
    // (Parsing fails, and waitFor tries again, while the first message is still half printed.)
    await waitFor(() => messages(awaiting.stdout()).length > 0, {
      timeoutMs: 15_000,
      message: "the pending state on the await stream",
    });
    expect(messages(awaiting.stdout()).map((m) => m.decision.status)).to.deep.equal(["DECISION_STATUS_PENDING"]);

    // The operator side, another buf curl.
    const answered = await call("Respond", operatorToken, {
      decisionId: decision.id,
      response: { action: "RESPONSE_ACTION_ACCEPT", comment: "go ahead" },
      responseKey: "alice-1",
    });
    expect(answered.decision.status).to.equal("DECISION_STATUS_COMPLETED");

    // The stream ends by itself after the final state, and buf curl exits 0.
    const result = await awaiting.result;
    expect(result.code, result.stderr).to.equal(0);
    const states = messages(result.stdout).map((m) => m.decision as Json);
    expect(states.map((s) => s.status)).to.deep.equal(["DECISION_STATUS_PENDING", "DECISION_STATUS_COMPLETED"]);
    const final = states[1]!;
    expect(final.outcome).to.deep.equal({ action: "RESPONSE_ACTION_ACCEPT", comment: "go ahead" });
    expect(final.responses.map((r: Json) => [r.responder, r.responseKey])).to.deep.equal([["alice", "alice-1"]]);
    expect(final.resolvedAt).to.be.a("string");
    expect(BigInt(final.revision) > BigInt(states[0]!.revision), "revisions increase").to.equal(true);

    // Reattaching after the end gets the final state at once.
    const later = await bufCurl([
      "-H",
      `authorization: Bearer ${workflowToken}`,
      "-d",
      JSON.stringify({ decisionId: decision.id }),
      url("AwaitDecision"),
    ]);
    expect(later.code, later.stderr).to.equal(0);
    expect(messages(later.stdout).map((m) => [m.decision.status, m.decision.revision])).to.deep.equal([
      ["DECISION_STATUS_COMPLETED", final.revision],
    ]);

    // GetDecision with the audit trail: the same revisions the stream carried.
    const got = await call("GetDecision", workflowToken, { decisionId: decision.id, includeAudit: true });
    expect(got.decision).to.deep.include({ id: decision.id, status: "DECISION_STATUS_COMPLETED", revision: final.revision });
    expect(got.audit.map((a: Json) => [a.action, a.actor, a.revision])).to.deep.equal([
      ["DECISION_AUDIT_ACTION_CREATED", "ci", states[0]!.revision],
      ["DECISION_AUDIT_ACTION_ANSWERED", "alice", final.revision],
    ]);
  });

  it("reports refusals as gRPC statuses buf curl shows: a wrong role, an unknown decision", async () => {
    const denied = await bufCurl([
      "-H",
      `authorization: Bearer ${operatorToken}`,
      "-d",
      JSON.stringify({ requestKey: "x", workflowId: "w", title: "t", spec: { confirmation: {} } }),
      url("CreateDecision"),
    ]);
    expect(denied.code).to.not.equal(0);
    expect(denied.stderr).to.match(/permission_denied/i);
    const missing = await bufCurl([
      "-H",
      `authorization: Bearer ${workflowToken}`,
      "-d",
      JSON.stringify({ decisionId: "00000000-0000-4000-8000-000000000000" }),
      url("AwaitDecision"),
    ]);
    expect(missing.code).to.not.equal(0);
    expect(missing.stderr).to.match(/not_found/i);
  });
});
