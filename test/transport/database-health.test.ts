/**
 * Health follows the database: NOT_SERVING while it cannot be reached, SERVING when it is back.
 */
import { expect } from "chai";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { adminPool, waitFor } from "../support/database.js";

describe("health follows the database", () => {
  let server: TestCoordinator;
  before(async () => {
    server = await startTestCoordinator({}, { databaseCheckIntervalMs: 100 });
  });
  after(async () => {
    await adminPool().query(`ALTER DATABASE "${server.databaseName}" WITH ALLOW_CONNECTIONS true`);
    await server.stop();
  });

  it("reports NOT_SERVING while the database refuses connections, and SERVING again after", async () => {
    const { client, channel } = clientFor(Health, server.address);
    try {
      expect((await client.check({})).status).to.equal(ServingStatus.SERVING);
      // Make the database unreachable for this coordinator: no new connections, existing ones cut.
      await adminPool().query(`ALTER DATABASE "${server.databaseName}" WITH ALLOW_CONNECTIONS false`);
      await adminPool().query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [server.databaseName]);
      await waitFor(async () => (await client.check({})).status === ServingStatus.NOT_SERVING, {
        timeoutMs: 10_000,
        message: "NOT_SERVING after the database went away",
      });
      await adminPool().query(`ALTER DATABASE "${server.databaseName}" WITH ALLOW_CONNECTIONS true`);
      await waitFor(async () => (await client.check({})).status === ServingStatus.SERVING, {
        timeoutMs: 10_000,
        message: "SERVING after the database came back",
      });
    } finally {
      channel.close();
    }
  });
});
