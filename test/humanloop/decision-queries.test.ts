/**
 * The read side of the human loop over real gRPC: ListDecisions paging and filters,
 * GetDecisionStatistics against a brute-force count, and templates the server itself accepts.
 */
import { create } from "@bufbuild/protobuf";
import { expect } from "chai";
import { Status, type Channel } from "nice-grpc";
import { CreateDecisionRequestSchema } from "../../gen/coordinator/v1/decision_commands_pb.js";
import { DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { DEFAULT_DECISION_LIMITS } from "../../src/humanloop/limits.js";
import { checkCreateRequest } from "../../src/humanloop/spec-validation.js";
import { decisionTemplates } from "../../src/humanloop/templates.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";

describe("HumanLoopService read side", function () {
  this.timeout(30_000);
  let server: TestCoordinator;
  let channels: Channel[] = [];
  let flow: ReturnType<typeof clientFor<(typeof HumanLoopService)["method"]>>["client"];
  let operator: typeof flow;

  before(async () => {
    server = await startTestCoordinator();
    const make = async (role: "workflow" | "operator", principal: string) => {
      const { token } = await createKey(server.coordinator.pool, { role, principal });
      const { client, channel } = clientFor(HumanLoopService, server.address, token);
      channels.push(channel);
      return client;
    };
    flow = await make("workflow", "ci");
    operator = await make("operator", "alice");
  });
  after(async () => {
    for (const channel of channels) channel.close();
    channels = [];
    await server.stop();
  });

  const decision = (key: string, workflowId: string, assignees: string[] = []) =>
    create(CreateDecisionRequestSchema, { requestKey: key, workflowId, title: key, assignees, spec: { kind: { case: "confirmation", value: {} } } });

  it("lists newest first in stable pages while new decisions arrive, with filters", async () => {
    const created: string[] = [];
    for (let i = 0; i < 12; i++) created.push((await flow.createDecision(decision(`list-${i}`, i % 2 ? "odd" : "even", i % 3 ? [] : ["bob"]))).decision!.id);
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await operator.listDecisions({ pageSize: 5, pageToken: token, workflowId: "even" });
      seen.push(...page.decisions.map((d) => d.id));
      token = page.nextPageToken;
      pages++;
      // A decision created between pages is newer than every listed one: it never shifts a page.
      await flow.createDecision(decision(`list-late-${pages}`, "even"));
    } while (token);
    const expected = created.filter((_, i) => i % 2 === 0).reverse();
    expect(seen).to.deep.equal(expected);
    expect(pages).to.equal(2);

    const bobs = await operator.listDecisions({ assignee: "bob" });
    expect(bobs.decisions.map((d) => d.title).sort()).to.deep.equal(["list-0", "list-3", "list-6", "list-9"]);
    const other = await operator.listDecisions({ pageSize: 1, workflowId: "even" });
    const misuse = await operator.listDecisions({ pageToken: other.nextPageToken, workflowId: "odd" }).catch((e: { code: Status; details: string }) => e);
    expect((misuse as { code: Status }).code).to.equal(Status.INVALID_ARGUMENT);
    expect((misuse as { details: string }).details).to.match(/^page_token/);
  });

  it("computes statistics equal to counting the decisions", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await flow.createDecision(decision(`stats-${i}`, "stats"))).decision!.id);
    await operator.respond({ decisionId: ids[0]!, response: { action: ResponseAction.ACCEPT } });
    await operator.respond({ decisionId: ids[1]!, response: { action: ResponseAction.ACCEPT } });
    await operator.respond({ decisionId: ids[2]!, response: { action: ResponseAction.DECLINE } });
    await flow.cancelDecision({ decisionId: ids[3]!, reason: "no longer needed" });
    const { overall, perWorkflow } = await operator.getDecisionStatistics({ workflowId: "stats" });
    expect(overall).to.include({ total: 6n, pending: 2n, completed: 3n, cancelled: 1n, expired: 0n, accepted: 2n, declined: 1n });
    expect(overall!.medianTimeToAnswer).to.not.equal(undefined);
    expect(perWorkflow.map((w) => w.workflowId)).to.deep.equal(["stats"]);
    const all = await operator.getDecisionStatistics({});
    const { rows } = await server.coordinator.pool.query("SELECT count(*)::int AS n FROM decisions");
    expect(Number(all.overall!.total)).to.equal(rows[0].n);
    expect(all.perWorkflow.reduce((sum, w) => sum + Number(w.statistics!.total), 0)).to.equal(rows[0].n);
  });

  it("lists templates that CreateDecision accepts", async () => {
    const { templates } = await operator.listTemplates({});
    expect(templates.map((t) => t.name)).to.deep.equal(["config-file-upload", "confirm", "select-environment", "server-config"]);
    for (const template of decisionTemplates()) {
      const request = { ...template.prototype!, requestKey: `template-${template.name}`, workflowId: "templates" };
      expect(() => checkCreateRequest(request, DEFAULT_DECISION_LIMITS), template.name).to.not.throw();
      const { decision: d } = await flow.createDecision(request);
      expect(d!.status).to.equal(DecisionStatus.PENDING);
    }
  });
});
