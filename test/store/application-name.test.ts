/**
 * A replica's connections carry its instance id in application_name, so pg_stat_activity tells
 * replicas apart.
 */
import { expect } from "chai";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";

describe("application_name", () => {
  let server: TestCoordinator;
  before(async () => {
    server = await startTestCoordinator();
  });
  after(async () => {
    await server.stop();
  });

  it("is 'mcp-coordinator <instance id>' on the pool's connections", async () => {
    const { rows } = await server.coordinator.pool.query<{ name: string }>("SELECT current_setting('application_name') AS name");
    expect(rows[0]!.name).to.equal(`mcp-coordinator ${server.coordinator.registry.instanceId}`);
  });
});
