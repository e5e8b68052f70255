/**
 * ReportInteractions: the unary fallback, with the same validation, dedupe and commit-before-answer.
 */
import { expect } from "chai";
import { ClientError, Status } from "nice-grpc";
import { EventKind } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { event } from "./events.js";

describe("ReportInteractions", () => {
  let server: TestCoordinator;
  let token: string;
  before(async () => {
    server = await startTestCoordinator();
    token = (await createKey(server.coordinator.pool, { role: "mcp", mcpId: "report-mcp" })).token;
  });
  after(async () => {
    await server.stop();
  });

  it("acks each event after commit; a resend is DUPLICATE; an invalid one is the only REJECTED", async () => {
    const { client, channel } = clientFor(InteractionService, server.address, token);
    try {
      const good = [event(EventKind.STARTED, "r-1", Date.now()), event(EventKind.COMPLETED, "r-1", Date.now())];
      const bad = { ...event(EventKind.PROGRESS, "r-1", Date.now()), eventId: "" };
      const first = await client.reportInteractions({ events: [good[0]!, bad, good[1]!] });
      expect(first.acks.map((a) => AckStatus[a.status])).to.deep.equal(["STORED", "REJECTED", "STORED"]);
      expect(first.acks[1]!.reason).to.contain("event_id");
      const again = await client.reportInteractions({ events: good });
      expect(again.acks.map((a) => AckStatus[a.status])).to.deep.equal(["DUPLICATE", "DUPLICATE"]);
      const { rows } = await server.coordinator.pool.query("SELECT status FROM interactions WHERE mcp_id = 'report-mcp'");
      expect(rows).to.deep.equal([{ status: 3 }]);
    } finally {
      channel.close();
    }
  });

  it("refuses another MCP's id and an empty batch, naming the field", async () => {
    const { client, channel } = clientFor(InteractionService, server.address, token);
    try {
      const other = await client.reportInteractions({ mcpId: "someone-else", events: [event(EventKind.STARTED, "x", Date.now())] }).catch((e: ClientError) => e);
      expect(other).to.be.instanceOf(ClientError);
      expect(Status[(other as ClientError).code]).to.equal("PERMISSION_DENIED");
      const empty = await client.reportInteractions({ events: [] }).catch((e: ClientError) => e);
      expect((empty as ClientError).details).to.contain("events");
    } finally {
      channel.close();
    }
  });
});
