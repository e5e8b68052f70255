/**
 * gRPC server reflection, v1 and v1alpha, so grpcurl and `buf curl` work without .proto files.
 *
 * The descriptors come from gen/coordinator.binpb, a `buf build` of proto/ that keeps source
 * comments (the descriptors embedded in protobuf-es code have them stripped), so `describe`
 * shows the contract's documentation.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ServerReflection, ServerReflectionService } from "nice-grpc-server-reflection";
import { tolerant } from "./malformed.js";

/** Where `npm run generate` writes the descriptor set (with imports and source info). */
export const DESCRIPTOR_SET_PATH = fileURLToPath(new URL("../../gen/coordinator.binpb", import.meta.url));

const v1 = ServerReflectionService.serverReflectionInfo;

/** The v1 service, with malformed requests answered INVALID_ARGUMENT (see malformed.ts). */
export const ServerReflectionV1Service = {
  serverReflectionInfo: {
    ...v1,
    requestDeserialize: tolerant("grpc.reflection.v1.ServerReflectionRequest", v1.requestDeserialize),
  },
} as unknown as typeof ServerReflectionService;

/**
 * The v1alpha service: the same messages on the wire under the older name, which grpcurl and
 * older tools still try first.
 */
export const ServerReflectionV1AlphaService = {
  serverReflectionInfo: {
    ...ServerReflectionV1Service.serverReflectionInfo,
    path: "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
  },
} as unknown as typeof ServerReflectionService;

/**
 * Builds the reflection implementation.
 *
 * @param serviceNames - full names of the services to list.
 */
export function reflectionService(serviceNames: readonly string[]) {
  return ServerReflection(readFileSync(DESCRIPTOR_SET_PATH), serviceNames);
}
