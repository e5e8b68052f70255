/**
 * Graceful shutdown of a real coordinator process with an open server stream.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { clientFor } from "../support/clients.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCoordinator, servingPort, type CoordinatorProcess } from "../support/process.js";

describe("graceful shutdown", () => {
  let database: TestDatabase;
  let dataDir: string;
  let proc: CoordinatorProcess | undefined;

  beforeEach(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-shutdown-"));
  });
  afterEach(async () => {
    proc?.kill();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("ends an open Health.Watch stream and exits 0 within the grace period on SIGTERM", async () => {
    proc = runCoordinator(["serve", "--listen", "127.0.0.1:0", "--shutdown-grace", "3s", "--data-dir", dataDir], {
      DATABASE_URL: database.connectionString,
    });
    const port = await servingPort(proc);
    const { client, channel } = clientFor(Health, `127.0.0.1:${port}`);
    const statuses: ServingStatus[] = [];
    let streamEnded = false;
    const streaming = (async () => {
      for await (const response of client.watch({ service: "" })) statuses.push(response.status);
      streamEnded = true;
    })();
    try {
      // Wait until the stream is really open before signalling.
      const deadline = Date.now() + 10_000;
      while (statuses.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      expect(statuses).to.deep.equal([ServingStatus.SERVING]);

      proc.child.kill("SIGTERM");
      expect(await proc.exited(10_000)).to.equal(0);
      await streaming;
      expect(streamEnded, "the stream ended normally").to.equal(true);
      expect(statuses).to.deep.equal([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
      // The stream ended itself: nothing had to be force-closed at the deadline.
      expect(proc.logs.some((r) => String(r.msg).includes("after the grace period"))).to.equal(false);
      expect(proc.logs.some((r) => r.msg === "shutdown complete")).to.equal(true);
    } finally {
      channel.close();
    }
  });
});
