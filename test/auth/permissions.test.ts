import { expect } from "chai";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { METHOD_ROLES, mayCall } from "../../src/auth/permissions.js";

describe("the role table", () => {
  const methods = [InteractionService, HumanLoopService].flatMap((service) =>
    service.methods.map((method) => `${service.typeName}/${method.name}`),
  );

  it("lists every method of both services, so no new RPC is left admin-only by accident", () => {
    expect(Object.keys(METHOD_ROLES).sort()).to.deep.equal([...methods].sort());
  });

  it("lets admin call every method and nobody call an unknown one", () => {
    for (const method of methods) expect(mayCall("admin", method)).to.equal(true);
    expect(mayCall("operator", "coordinator.v1.InteractionService/Nope")).to.equal(false);
  });

  it("keeps MCP keys to reporting", () => {
    const allowed = methods.filter((method) => mayCall("mcp", method)).map((m) => m.split("/")[1]);
    expect(allowed.sort()).to.deep.equal(["RegisterMcp", "ReportInteractions", "StreamInteractions"]);
  });
});
