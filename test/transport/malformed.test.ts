/**
 * Bytes that are not the expected message get INVALID_ARGUMENT naming the message, and the server
 * keeps serving everyone else.
 */
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";

function rawUnary(address: string, path: string, body: Buffer): Promise<grpc.ServiceError | undefined> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (value: Buffer) => value,
      (value: Buffer) => value,
      body,
      (error) => {
        client.close();
        resolve(error ?? undefined);
      },
    );
  });
}

describe("malformed requests", () => {
  let server: TestCoordinator;
  before(async () => {
    server = await startTestCoordinator();
  });
  after(async () => {
    await server.stop();
  });

  it("answers INVALID_ARGUMENT naming the message that could not be parsed", async () => {
    // Field 1 declared as length-delimited with a length far past the end of the buffer.
    const error = await rawUnary(server.address, "/grpc.health.v1.Health/Check", Buffer.from([0x0a, 0xff, 0x01, 0x41]));
    expect(error?.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(error?.details).to.contain("grpc.health.v1.HealthCheckRequest");
  });

  it("answers INVALID_ARGUMENT on a server-streaming call too", async () => {
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
    try {
      const stream = client.makeServerStreamRequest(
        "/grpc.health.v1.Health/Watch",
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.from([0x0a, 0xff, 0x01, 0x41]),
      );
      const error = await new Promise<grpc.ServiceError>((resolve) => {
        stream.on("data", () => undefined);
        stream.on("error", resolve);
      });
      expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(error.details).to.contain("grpc.health.v1.HealthCheckRequest");
    } finally {
      client.close();
    }
  });

  it("answers INVALID_ARGUMENT for a malformed reflection request", async () => {
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
    try {
      const stream = client.makeBidiStreamRequest(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        (value: Buffer) => value,
        (value: Buffer) => value,
      );
      const error = await new Promise<grpc.ServiceError>((resolve) => {
        stream.on("data", () => undefined);
        stream.on("error", resolve);
        stream.write(Buffer.from([0x0a, 0xff, 0x01, 0x41]));
      });
      expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(error.details).to.contain("grpc.reflection.v1.ServerReflectionRequest");
    } finally {
      client.close();
    }
  });

  it("authenticates before looking at the request: no key and bad bytes is UNAUTHENTICATED", async () => {
    const error = await rawUnary(server.address, "/coordinator.v1.HumanLoopService/GetDecision", Buffer.from([0x0a, 0xff, 0x01, 0x41]));
    expect(error?.code).to.equal(grpc.status.UNAUTHENTICATED);
  });

  it("keeps serving other calls afterwards", async () => {
    await rawUnary(server.address, "/grpc.health.v1.Health/Check", Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const { client, channel } = clientFor(Health, server.address);
    try {
      expect((await client.check({})).status).to.equal(1);
    } finally {
      channel.close();
    }
  });
});
