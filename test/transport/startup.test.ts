/**
 * Health says SERVING only once the database is reachable and migrated.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PoolClient } from "pg";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { MIGRATION_LOCK_KEY } from "../../src/store/migrate.js";
import { clientFor } from "../support/clients.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCoordinator, servingPort, type CoordinatorProcess } from "../support/process.js";

describe("startup", () => {
  let database: TestDatabase;
  let dataDir: string;
  let proc: CoordinatorProcess | undefined;
  let lockHolder: PoolClient | undefined;

  beforeEach(async () => {
    database = await createTestDatabase({ migrated: false });
    dataDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-startup-"));
  });
  afterEach(async () => {
    proc?.kill();
    lockHolder?.release();
    lockHolder = undefined;
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("reports NOT_SERVING while migrations cannot run, then SERVING once they have", async () => {
    // Another "replica" holds the migration lock, so this one must wait before it can migrate.
    lockHolder = await database.pool.connect();
    await lockHolder.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY.toString()]);

    proc = runCoordinator(["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
      DATABASE_URL: database.connectionString,
    });
    const listening = await proc.waitForLog((r) => String(r.msg).startsWith("gRPC server listening"));
    const { client, channel } = clientFor(Health, `127.0.0.1:${listening.port as number}`);
    try {
      expect((await client.check({})).status).to.equal(ServingStatus.NOT_SERVING);
      expect((await client.check({ service: "coordinator.v1.InteractionService" })).status).to.equal(ServingStatus.NOT_SERVING);

      await lockHolder.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY.toString()]);
      await servingPort(proc);
      expect((await client.check({})).status).to.equal(ServingStatus.SERVING);
    } finally {
      channel.close();
    }
  });

  it("still stops on SIGTERM while startup waits for the migration lock", async () => {
    lockHolder = await database.pool.connect();
    await lockHolder.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY.toString()]);
    proc = runCoordinator(["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--shutdown-grace", "500ms"], {
      DATABASE_URL: database.connectionString,
    });
    await proc.waitForLog((r) => String(r.msg).startsWith("gRPC server listening"));
    proc.child.kill("SIGTERM");
    expect(await proc.exited(15_000)).to.equal(1);
    expect(proc.logs.some((r) => String(r.msg).includes("still starting after the grace period"))).to.equal(true);
  });

  it("exits non-zero with the reason when the database cannot be reached", async () => {
    proc = runCoordinator(["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
      // Port 1 on loopback: nothing listens there, the connection is refused at once.
      DATABASE_URL: "postgres://nobody:secret-password@127.0.0.1:1/nothing",
    });
    expect(await proc.exited(30_000)).to.equal(1);
    expect(proc.stderr()).to.contain("ECONNREFUSED");
    expect(proc.stderr() + JSON.stringify(proc.logs)).not.to.contain("secret-password");
  });
});
