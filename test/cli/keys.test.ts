/**
 * `mcp-coordinator keys create | list | revoke` against a real database, as an operator runs it.
 */
import { expect } from "chai";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { runCoordinator } from "../support/process.js";

async function cli(args: string[], databaseUrl: string) {
  const proc = runCoordinator(args, { DATABASE_URL: databaseUrl });
  const code = await proc.exited(30_000);
  return { code, stdout: proc.logs.map((r) => (r.unparsed ? r.msg : JSON.stringify(r))).join("\n"), stderr: proc.stderr() };
}

describe("keys command", () => {
  let server: TestCoordinator;
  before(async () => {
    server = await startTestCoordinator();
  });
  after(async () => {
    await server.stop();
  });

  it("creates a key that works, lists it, and revokes it", async () => {
    const created = await cli(["keys", "create", "--role", "operator", "--name", "alice", "--json"], server.databaseUrl);
    expect(created.code, created.stderr).to.equal(0);
    const key = JSON.parse(created.stdout) as { id: string; token: string; role: string };
    expect(key.role).to.equal("operator");

    const { client, channel } = clientFor(HumanLoopService, server.address, key.token);
    try {
      // Authenticated and authorised: the call succeeds.
      const templates = await client.listTemplates({});
      expect(templates.templates).to.not.be.empty;

      const listed = await cli(["keys", "list"], server.databaseUrl);
      expect(listed.stdout).to.contain(key.id).and.contain("alice").and.not.contain(key.token);

      const revoked = await cli(["keys", "revoke", key.id], server.databaseUrl);
      expect(revoked.code, revoked.stderr).to.equal(0);
      expect(revoked.stdout).to.contain(`revoked ${key.id}`);
      const listedAll = await cli(["keys", "list", "--all", "--json"], server.databaseUrl);
      const row = (JSON.parse(listedAll.stdout) as { id: string; status: string }[]).find((k) => k.id === key.id);
      expect(row?.status).to.equal("revoked");
    } finally {
      channel.close();
    }
  });

  it("refuses inconsistent requests with exit 2 and the field named", async () => {
    const noMcp = await cli(["keys", "create", "--role", "mcp"], server.databaseUrl);
    expect(noMcp.code).to.equal(2);
    expect(noMcp.stderr).to.contain("mcp_id is required");
    const badRole = await cli(["keys", "create", "--role", "root"], server.databaseUrl);
    expect(badRole.code).to.equal(2);
    expect(badRole.stderr).to.contain("role must be one of");
    const unknown = await cli(["keys", "revoke", "0000000000000000"], server.databaseUrl);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain("no API key");
  });
});
