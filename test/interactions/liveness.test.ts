/**
 * Heartbeats keep a stream open; a frozen client (SIGSTOP) is dropped after 3 silent intervals.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { createKey } from "../../src/auth/keys.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";

const CHILD = fileURLToPath(new URL("./frozen-client-child.ts", import.meta.url));
const HEARTBEAT_MS = 300;

describe("stream liveness", () => {
  let server: TestCoordinator;
  before(async () => {
    server = await startTestCoordinator({}, { ingestLimits: { heartbeatIntervalMs: HEARTBEAT_MS } });
  });
  after(async () => {
    await server.stop();
  });

  it("keeps a heartbeating stream, and drops it once the client is frozen for 3 intervals", async () => {
    const { token } = await createKey(server.coordinator.pool, { role: "mcp", mcpId: "frozen-mcp" });
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, server.address, token, String(HEARTBEAT_MS)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(() => output.includes("welcomed"), { timeoutMs: 30_000, message: "child welcomed" });
      expect(server.coordinator.ingest.openStreams).to.equal(1);
      // Alive and heartbeating for well over 3 intervals: still open.
      const aliveUntil = Date.now() + HEARTBEAT_MS * 6;
      await waitFor(() => Date.now() > aliveUntil || server.coordinator.ingest.openStreams === 0, { timeoutMs: 10_000 });
      expect(server.coordinator.ingest.openStreams, "a heartbeating stream was closed").to.equal(1);

      child.kill("SIGSTOP");
      const frozenAt = Date.now();
      await waitFor(() => server.coordinator.ingest.openStreams === 0, { timeoutMs: 10_000, message: "frozen stream closed" });
      expect(Date.now() - frozenAt).to.be.at.least(HEARTBEAT_MS * 2);
    } finally {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  });
});
