/**
 * TLS: with --tls-cert and --tls-key the server speaks TLS only.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { expect } from "chai";
import { createChannel, createClient } from "nice-grpc";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { toNiceDefinition } from "../../src/transport/definition.js";
import { bufCurl } from "../support/buf-curl.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";

describe("TLS", () => {
  let dir: string;
  let server: TestCoordinator;
  let cert: Buffer;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "mcpc-tls-"));
    // A throwaway self-signed certificate for 127.0.0.1, made with the system's openssl.
    await promisify(execFile)("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "1",
      "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
    ]);
    cert = await readFile(path.join(dir, "cert.pem"));
    server = await startTestCoordinator({ tlsCert: path.join(dir, "cert.pem"), tlsKey: path.join(dir, "key.pem") });
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
