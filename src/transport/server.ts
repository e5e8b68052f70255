/**
 * Assembles the gRPC server: middleware, the coordinator's services, health and reflection.
 */
import { readFileSync } from "node:fs";
import { ServerCredentials } from "@grpc/grpc-js";
import { createServer, type Server } from "nice-grpc";
import type { ChannelOptions } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { DecisionStreams } from "../humanloop/decision-streams.js";
import { authGate } from "./auth-middleware.js";
import { awaitDecisionInterceptor } from "./await-interceptor.js";
import { toNiceDefinition } from "./definition.js";
import { errorMiddleware } from "./error-middleware.js";
import { healthService, type HealthState } from "./health.js";
import type { Lifecycle } from "./lifecycle.js";
import { rejectMalformed } from "./malformed.js";
import { reflectionService, ServerReflectionV1AlphaService, ServerReflectionV1Service } from "./reflection.js";

/** Full names of the services this server exposes (reflection lists these). */
export const SERVICE_NAMES = [InteractionService.typeName, HumanLoopService.typeName, Health.typeName] as const;

/** The largest request message accepted, in bytes (file answers in decisions are the big ones). */
export const MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024;

/** What the transport needs from the rest of the coordinator. */
export interface GrpcServerOptions {
  listen: string;
  tls: { certPath: string; keyPath: string } | undefined;
  logger: Logger;
  authenticator: Authenticator;
  health: HealthState;
  lifecycle: Lifecycle;
  /** The InteractionService implementation (see interaction-service.ts). */
  interactions: object;
  /** The HumanLoopService implementation (see human-loop-service.ts). */
  humanLoop: object;
  /** What AwaitDecision follows (served by await-interceptor.ts). */
  decisionStreams: DecisionStreams;
  /** Connections older than this stop taking new calls (GOAWAY); see below. */
  maxConnectionAgeMs: number;
  /** How long a GOAWAY'd connection's streams may go on before they are cut. */
  maxConnectionAgeGraceMs: number;
}

/** A listening server and the port it bound (useful when asked for port 0). */
export interface RunningGrpcServer {
  server: Server;
  port: number;
}

/**
 * Builds the server and starts listening.
 *
 * @throws when the address cannot be bound (in use, permission) — the message says which address.
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const server = createServer({
    "grpc.max_receive_message_length": MAX_RECEIVE_MESSAGE_BYTES,
    // Ping idle connections so a vanished client's resources are released within a minute.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    // Connection rotation, so clients re-resolve and spread across replicas: after this age the
    // connection takes no new calls (GOAWAY). Its open streams are not cut until the grace ends,
    // and the grace is longer than any stream may live (max age + drain grace + slack): the
    // coordinator's own stream rotation sends each stream Drain first, so streams move at a
    // moment the protocol controls. The grace is only a backstop.
    "grpc.max_connection_age_ms": options.maxConnectionAgeMs,
    "grpc.max_connection_age_grace_ms": options.maxConnectionAgeGraceMs,
    // Channelz (grpc-js's call statistics) is read only through the channelz service, which this
    // server does not serve; enabled, it keeps a tracker with four closures for every open call.
    "grpc.enable_channelz": 0,
    // AwaitDecision is answered at the grpc-js level, for its memory per waiting call (see there).
    interceptors: [awaitDecisionInterceptor({ authenticator: options.authenticator, logger: options.logger, streams: options.decisionStreams })],
  } as ChannelOptions);

  // One middleware per call (error-middleware.ts), each group of services with its gate.
  // Authentication first, so an anonymous caller learns nothing about its request's contents:
  // authentication, then the malformed-request check (one gate: see auth-middleware.ts).
  const authenticated = server.with(errorMiddleware(options.logger, authGate(options.authenticator, options.logger)));
  authenticated.add(toNiceDefinition(InteractionService), options.interactions as never);
  authenticated.add(toNiceDefinition(HumanLoopService), options.humanLoop as never);

  // Probes and debugging tools need no key.
  const open = server.with(errorMiddleware(options.logger, rejectMalformed));
  open.add(toNiceDefinition(Health), healthService(options.health, options.lifecycle));
  const reflection = reflectionService(SERVICE_NAMES);
  open.add(ServerReflectionV1Service, reflection);
  open.add(ServerReflectionV1AlphaService, reflection);

  let port: number;
  try {
    port = await server.listen(options.listen, credentials(options.tls));
  } catch (error) {
    throw new Error(`cannot listen on ${options.listen}: ${(error as Error).message}`);
  }
  return { server, port };
}

function credentials(tls: GrpcServerOptions["tls"]): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(null, [
    { cert_chain: readFileSync(tls.certPath), private_key: readFileSync(tls.keyPath) },
  ]);
}
