/**
 * Builds nice-grpc service definitions from protobuf-es service descriptors.
 *
 * nice-grpc understands three definition shapes (its own, grpc-js's and ts-proto's) but not
 * protobuf-es's `GenService`. Rather than generate a second set of code, we derive nice-grpc's own
 * shape from the descriptor at startup: serialization goes through protobuf-es, the types flow from
 * the generated schemas to handlers and clients, and the method's `idempotency_level` option is kept
 * (grpc-js-shaped definitions would drop it; nice-grpc clients use it to decide what is safe to retry).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { MethodDefinition } from "nice-grpc";
import { tolerant } from "./malformed.js";
import { rememberWireBytes } from "./wire-bytes.js";

type MethodKind = DescMethod["methodKind"];
type IsRequestStream<K extends MethodKind> = K extends "client_streaming" | "bidi_streaming" ? true : false;
type IsResponseStream<K extends MethodKind> = K extends "server_streaming" | "bidi_streaming" ? true : false;

/**
 * The nice-grpc definition of one protobuf-es method: callers may pass init shapes (plain objects),
 * receivers get full messages.
 */
export type NiceMethodDefinition<M extends GenServiceMethods[string]> = MethodDefinition<
  MessageInitShape<M["input"]>,
  MessageShape<M["input"]>,
  MessageInitShape<M["output"]>,
  MessageShape<M["output"]>,
  IsRequestStream<M["methodKind"]>,
  IsResponseStream<M["methodKind"]>
>;

/** The nice-grpc definition of a protobuf-es service, keyed by the methods' local (camelCase) names. */
export type NiceServiceDefinition<S extends GenServiceMethods> = {
  [K in keyof S]: NiceMethodDefinition<S[K]>;
};

/**
 * Converts a generated protobuf-es service into a nice-grpc service definition, usable with both
 * `createServer().add()` and `createClient()`.
 *
 * @param service - a `GenService` exported by a generated `*_pb.ts` file.
 * @returns a definition keyed by method local name, with the `/package.Service/Method` paths.
 */
export function toNiceDefinition<S extends GenServiceMethods>(service: GenService<S>): NiceServiceDefinition<S> {
  const definition: Record<string, unknown> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      // Bad bytes reach the malformed-request check (auth or rejectMalformed gate) as a marker (see malformed.ts).
      requestDeserialize: tolerant(method.input.typeName, rememberingDeserializer(method.input)),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
      options: idempotencyOption(method),
    };
  }
  return definition as NiceServiceDefinition<S>;
}

function serializer(schema: DescMessage): (value: MessageInitShape<DescMessage>) => Uint8Array {
  // create() accepts both a full message and a plain init object, so handlers may return either.
  return (value) => toBinary(schema, create(schema, value));
}

function rememberingDeserializer(schema: DescMessage): (bytes: Uint8Array) => MessageShape<DescMessage> {
  return (bytes) => {
    const message = fromBinary(schema, bytes);
    // Kept for ingest, which stores events as they arrived (see wire-bytes.ts).
    rememberWireBytes(message, bytes);
    return message;
  };
}

function deserializer(schema: DescMessage): (bytes: Uint8Array) => MessageShape<DescMessage> {
  return (bytes) => fromBinary(schema, bytes);
}

function idempotencyOption(method: DescMethod): { idempotencyLevel?: "IDEMPOTENT" | "NO_SIDE_EFFECTS" } {
  switch (method.idempotency) {
    case MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS:
      return { idempotencyLevel: "NO_SIDE_EFFECTS" };
    case MethodOptions_IdempotencyLevel.IDEMPOTENT:
      return { idempotencyLevel: "IDEMPOTENT" };
    default:
      return {};
  }
}
