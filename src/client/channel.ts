/**
 * The gRPC channel and typed client the reporter streams over.
 */
import { credentials } from "@grpc/grpc-js";
import { createChannel, createClient, Metadata, type Channel } from "nice-grpc";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { toNiceDefinition } from "../transport/definition.js";
import type { ResolvedOptions } from "./options.js";

const definition = toNiceDefinition(InteractionService);

/** The typed nice-grpc client of InteractionService. */
export type InteractionClient = ReturnType<typeof createInteractionClient>;

/** Creates the typed client; every call carries the bearer key. */
export function createInteractionClient(channel: Channel, apiKey: string) {
  return createClient(definition, channel, {
    "*": { metadata: Metadata({ authorization: `Bearer ${apiKey}` }) },
  });
}

/** Opens a channel to the coordinator (it connects lazily, on the first call). */
export function openChannel(options: Pick<ResolvedOptions, "address" | "tls">): Channel {
  const channelCredentials = options.tls ? credentials.createSsl(options.tls.rootCerts ?? null) : undefined;
  // Without credentials nice-grpc infers them from the address scheme (plaintext when none).
  return createChannel(options.address, channelCredentials, {
    // Our own Heartbeat frames detect a dead peer; grpc-js's reconnect backoff is kept short
    // because the supervisor does its own backoff with jitter.
    "grpc.initial_reconnect_backoff_ms": 250,
    "grpc.max_reconnect_backoff_ms": 5_000,
  });
}
