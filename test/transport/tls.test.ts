/**
 * TLS: with --tls-cert and --tls-key the server speaks TLS only.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { expect } from "chai";
import { createChannel, createClient } from "nice-grpc";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { toNiceDefinition } from "../../src/transport/definition.js";
import { bufCurl } from "../support/buf-curl.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { selfSignedCertificate } from "../support/self-signed.js";

describe("TLS", () => {
  let dir: string;
  let server: TestCoordinator;
  let cert: Buffer;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "mcpc-tls-"));
    const made = await selfSignedCertificate(dir);
    cert = made.cert;
    server = await startTestCoordinator({ tlsCert: made.certPath, tlsKey: made.keyPath });
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers over TLS for a client that trusts the certificate", async () => {
    const channel = createChannel(server.address, credentials.createSsl(cert), {
      // Verify against the certificate's DNS name (SNI with an IP address is not allowed).
      "grpc.ssl_target_name_override": "localhost",
    });
    try {
      const client = createClient(toNiceDefinition(Health), channel);
      expect((await client.check({})).status).to.equal(ServingStatus.SERVING);
    } finally {
      channel.close();
    }
    const curl = await bufCurl(["--cacert", path.join(dir, "cert.pem"), "--list-services", `https://${server.address}`]);
    expect(curl.code, curl.stderr).to.equal(0);
    expect(curl.stdout).to.contain("coordinator.v1.InteractionService");
  });

  it("refuses plaintext", async () => {
    const channel = createChannel(server.address);
    try {
      const client = createClient(toNiceDefinition(Health), channel);
      const error = await client.check({}, { signal: AbortSignal.timeout(5_000) }).then(() => undefined, (e: Error) => e);
      expect(error, "a plaintext call succeeded").to.be.instanceOf(Error);
    } finally {
      channel.close();
    }
  });
});
