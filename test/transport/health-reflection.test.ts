/**
 * What an SRE sees with grpcurl-style tools: reflection (v1 and v1alpha) and health, no key needed.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { ServerReflectionService } from "nice-grpc-server-reflection";
import { createChannel, createClient } from "nice-grpc";
import { ServerReflectionRequest } from "nice-grpc-server-reflection/lib/proto/grpc/reflection/v1/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { bufCurl } from "../support/buf-curl.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";

const SERVICES = ["coordinator.v1.HumanLoopService", "coordinator.v1.InteractionService", "grpc.health.v1.Health"];

describe("reflection and health", () => {
  let server: TestCoordinator;

  before(async () => {
    server = await startTestCoordinator();
  });
  after(async () => {
    await server.stop();
  });

  for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
    it(`lists both services and Health through buf curl with ${protocol} reflection`, async () => {
      const result = await bufCurl(["--reflect-protocol", protocol, "--list-services", `http://${server.address}`]);
      expect(result.stderr).to.equal("");
      expect(result.code).to.equal(0);
      expect(result.stdout.trim().split("\n").sort()).to.deep.equal(SERVICES);
    });
  }

  it("lists every method of the contract through reflection", async () => {
    const result = await bufCurl(["--list-methods", `http://${server.address}`]);
    expect(result.code, result.stderr).to.equal(0);
    for (const method of ["coordinator.v1.InteractionService/StreamInteractions", "coordinator.v1.HumanLoopService/AwaitDecision"]) {
      expect(result.stdout).to.contain(method);
    }
  });

  it("serves descriptors that keep the .proto comments", async () => {
    const channel = createChannel(server.address);
    try {
      const client = createClient(ServerReflectionService, channel);
      const request = new ServerReflectionRequest();
      request.setFileContainingSymbol("coordinator.v1.InteractionService");
      let files: Uint8Array[] = [];
      for await (const response of client.serverReflectionInfo((async function* () {
        yield request;
      })())) {
        files = response.getFileDescriptorResponse()!.getFileDescriptorProtoList_asU8();
      }
      const service = files
        .map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes))
        .find((file) => file.service.some((s) => s.name === "InteractionService"))!;
      const comments = service.sourceCodeInfo?.location.map((l) => l.leadingComments).filter(Boolean) ?? [];
      expect(comments.length).to.be.greaterThan(10);
    } finally {
      channel.close();
    }
  });

  it("answers Health/Check SERVING through buf curl without a key", async () => {
    const result = await bufCurl([`http://${server.address}/grpc.health.v1.Health/Check`]);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.equal({ status: "SERVING" });
  });

  it("answers each service's health, and NOT_FOUND for an unknown one", async () => {
    const { client, channel } = clientFor(Health, server.address);
    try {
      const response = await client.check({ service: "coordinator.v1.HumanLoopService" });
      expect(response.status).to.equal(HealthCheckResponse_ServingStatus.SERVING);
      const unknown = await bufCurl(["-d", '{"service":"nope.Service"}', `http://${server.address}/grpc.health.v1.Health/Check`]);
      expect(unknown.code).to.not.equal(0);
      expect(unknown.stderr).to.contain("not_found");
    } finally {
      channel.close();
    }
  });

  it("streams health changes to Watch", async () => {
    const { client, channel } = clientFor(Health, server.address);
    const abort = new AbortController();
    try {
      const seen: HealthCheckResponse_ServingStatus[] = [];
      for await (const response of client.watch({ service: "" }, { signal: abort.signal })) {
        seen.push(response.status);
        if (seen.length === 1) server.coordinator.health.setAll(HealthCheckResponse_ServingStatus.NOT_SERVING);
        if (seen.length === 2) break;
      }
      expect(seen).to.deep.equal([HealthCheckResponse_ServingStatus.SERVING, HealthCheckResponse_ServingStatus.NOT_SERVING]);
    } finally {
      server.coordinator.health.setAll(HealthCheckResponse_ServingStatus.SERVING);
      abort.abort();
      channel.close();
    }
  });
});
