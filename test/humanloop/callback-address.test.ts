/**
 * Callbacks connect to public addresses only, unless the operator allows private ones: a host
 * name on the allowlist that resolves to loopback (as a DNS-rebinding attacker would arrange) is
 * refused at connect time, and the refusal is audited.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import type { Channel } from "nice-grpc";
import { DecisionAuditAction } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { createKey } from "../../src/auth/keys.js";
import { isPublicAddress, PrivateAddressError } from "../../src/humanloop/callback-address.js";
import { postCallback } from "../../src/humanloop/callback-http.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";

describe("callback addresses", function () {
  this.timeout(30_000);
  let receiver: Server;
  let port: number;
  let hits = 0;

  before(async () => {
    receiver = createServer((req, res) => {
      hits++;
      req.resume();
      req.on("end", () => (req.url === "/moved" ? res.writeHead(301, { location: "/elsewhere" }).end() : res.writeHead(204).end()));
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    port = (receiver.address() as AddressInfo).port;
  });
  after(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it("tells public addresses from loopback, private, link-local and reserved ones", () => {
    const notPublic = [
      "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
      "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1",
      "::ffff:10.0.0.1", "64:ff9b::a00:1", "not an address",
    ]; // prettier-ignore
    const isPublic = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"];
    expect(notPublic.filter(isPublicAddress), "taken for public").to.deep.equal([]);
    expect(isPublic.filter((a) => !isPublicAddress(a)), "taken for private").to.deep.equal([]);
  });

  it("refuses a host name resolving to loopback before connecting, and sends when private addresses are allowed", async () => {
    const send = (url: string, allowPrivateAddresses: boolean) =>
      postCallback(url, { headers: { "content-type": "application/json" }, body: "{}", signal: AbortSignal.timeout(5_000), allowPrivateAddresses });
    const before = hits;
    const refused = await send(`http://localhost:${port}/hook`, false).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(PrivateAddressError);
    expect((refused as Error).message).to.match(/^localhost resolves to (127\.0\.0\.1|::1), not a public address/);
    expect(hits, "nothing reached the receiver").to.equal(before);

    expect(await send(`http://localhost:${port}/hook`, true)).to.equal(204);
    // An IP literal is not looked up: the allowlist names such an address only on purpose.
    expect(await send(`http://127.0.0.1:${port}/hook`, false)).to.equal(204);
    // A redirect comes back as it is.
    expect(await send(`http://127.0.0.1:${port}/moved`, false)).to.equal(301);
    expect(hits).to.equal(before + 3);
  });

  describe("in the coordinator", () => {
    let server: TestCoordinator;
    const channels: Channel[] = [];
    before(async () => {
      server = await startTestCoordinator({ callbackAllowlist: ["localhost"], callbackAllowHttp: true }, { callbackPollMs: 20, callbacks: { maxAttempts: 1 } });
    });
    after(async () => {
      for (const channel of channels) channel.close();
      await server.stop();
    });

    it("audits the refusal of an allowlisted host that resolves to a private address", async () => {
      const clientAs = async (role: "workflow" | "operator", principal: string) => {
        const { token } = await createKey(server.coordinator.pool, { role, principal });
        const { client, channel } = clientFor(HumanLoopService, server.address, token);
        channels.push(channel);
        return client;
      };
      const workflow = await clientAs("workflow", "ci");
      const operator = await clientAs("operator", "alice");
      const before = hits;
      const { decision } = await workflow.createDecision({
        requestKey: "rebind-1",
        workflowId: "deploy",
        title: "Deploy?",
        spec: { kind: { case: "confirmation", value: {} } },
        callbackUrl: `http://localhost:${port}/hook`,
      });
      await operator.respond({ decisionId: decision!.id, response: { action: ResponseAction.ACCEPT } });
      const failed = await waitFor(async () => {
        const { audit } = await workflow.getDecision({ decisionId: decision!.id, includeAudit: true });
        return audit.find((entry) => entry.action === DecisionAuditAction.CALLBACK_FAILED);
      });
      expect(failed.details!.error).to.match(/localhost resolves to .*, not a public address \(--callback-allow-private allows it\)/);
      expect(hits).to.equal(before);
    });
  });
});
