/**
 * RegisterMcp and ListMcps: map coordinator.v1 messages to the registry's domain types and back,
 * and RegistryError to a gRPC status naming the field. No SQL and no rules live here.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ServerError, Status, type CallContext } from "nice-grpc-common";
import type {
  ListMcpsRequest,
  ListMcpsResponseSchema,
  McpConfigSchema,
  McpInfo as McpInfoMessage,
  McpSchema,
  RegisterMcpRequest,
  RegisterMcpResponseSchema,
  RoutingConfig as RoutingConfigMessage,
} from "../../gen/coordinator/v1/registry_pb.js";
import type { IngestLimits } from "../interactions/limits.js";
import type { Registry } from "../registry/registry.js";
import { RegistryError, type McpInfo, type McpRecord, type RoutingConfig } from "../registry/types.js";
import type { AuthContext } from "./auth-middleware.js";

/**
 * How long a ReportInteractions client should collect events before sending a batch (McpConfig.
 * report_interval). Not an ingest limit the server enforces, only advice; 1 s keeps the unary
 * fallback's latency close to the stream's without a call per event.
 */
export const REPORT_INTERVAL_MS = 1_000;

type RegisterMcpResponseInit = MessageInitShape<typeof RegisterMcpResponseSchema>;
type ListMcpsResponseInit = MessageInitShape<typeof ListMcpsResponseSchema>;

/** The InteractionService handlers of the registry RPCs. */
export interface RegistryHandlers {
  registerMcp(request: RegisterMcpRequest, context: CallContext & AuthContext): Promise<RegisterMcpResponseInit>;
  listMcps(request: ListMcpsRequest, context: CallContext & AuthContext): Promise<ListMcpsResponseInit>;
}

/**
 * Creates the handlers; add them to the InteractionService implementation behind the auth
 * middleware (they read `context.principal`).
 *
 * @param registry - the replica's registry.
 * @param limits - the ingest terms McpConfig reports (the same numbers Welcome sends).
 */
export function registryHandlers(registry: Registry, limits: IngestLimits): RegistryHandlers {
  return {
    async registerMcp(request, context) {
      const result = await domainCall(() =>
        registry.register(
          {
            mcpId: request.mcpId,
            info: request.info ? infoFromMessage(request.info) : undefined,
            routing: request.routing ? routingFromMessage(request.routing) : undefined,
            issueApiKey: request.issueApiKey,
          },
          context.principal,
        ),
      );
      return {
        mcp: mcpToMessage(result.mcp),
        config: configFor(result.mcp.routing, limits),
        created: result.created,
        apiKey: result.apiKey ?? "",
      };
    },

    async listMcps(request) {
      const result = await domainCall(() =>
        registry.list({
          pageSize: request.pageSize,
          pageToken: request.pageToken,
          capability: request.capability,
          connectedOnly: request.connectedOnly,
        }),
      );
      return { mcps: result.mcps.map(mcpToMessage), nextPageToken: result.nextPageToken };
    },
  };
}

/** Runs a registry call, turning its refusals into the statuses the contract names. */
async function domainCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RegistryError) {
      throw new ServerError(error.kind === "permission" ? Status.PERMISSION_DENIED : Status.INVALID_ARGUMENT, error.message);
    }
    throw error;
  }
}

function infoFromMessage(info: McpInfoMessage): McpInfo {
  const resources = info.resources;
  return {
    name: info.name,
    version: info.version,
    type: info.type,
    capabilities: info.capabilities,
    supportedFormats: info.supportedFormats,
    endpoints: info.endpoints.map((e) => ({ name: e.name, url: e.url, protocol: e.protocol })),
    resources: {
      cpuCores: resources?.cpuCores ?? 0,
      // uint64 arrives as bigint; Number() of an absurd value becomes unsafe and validation refuses it.
      memoryMb: Number(resources?.memoryMb ?? 0n),
      gpuCount: resources?.gpuCount ?? 0,
      gpuMemoryMb: Number(resources?.gpuMemoryMb ?? 0n),
    },
    description: info.description,
    environment: info.environment,
    region: info.region,
  };
}

function routingFromMessage(routing: RoutingConfigMessage): RoutingConfig {
  return { priority: routing.priority, weight: routing.weight, maxConcurrency: routing.maxConcurrency };
}

function mcpToMessage(mcp: McpRecord): MessageInitShape<typeof McpSchema> {
  const info = mcp.info;
  return {
    mcpId: mcp.mcpId,
    info: info && {
      name: info.name,
      version: info.version,
      type: info.type,
      capabilities: info.capabilities,
      supportedFormats: info.supportedFormats,
      endpoints: info.endpoints,
      resources: {
        cpuCores: info.resources.cpuCores,
        memoryMb: BigInt(info.resources.memoryMb),
        gpuCount: info.resources.gpuCount,
        gpuMemoryMb: BigInt(info.resources.gpuMemoryMb),
      },
      description: info.description,
      environment: info.environment,
      region: info.region,
    },
    routing: mcp.routing,
    registeredAt: timestampFromDate(mcp.registeredAt),
    updatedAt: timestampFromDate(mcp.updatedAt),
    lastSeen: mcp.lastSeen && timestampFromDate(mcp.lastSeen),
    connected: mcp.connected,
    connections: mcp.connections.map((c) => ({
      streamId: c.streamId,
      instanceId: c.instanceId,
      coordinatorInstance: c.coordinatorInstance,
      connectedSince: timestampFromDate(c.connectedSince),
      clientVersion: c.clientVersion,
    })),
  };
}

function configFor(routing: RoutingConfig, limits: IngestLimits): MessageInitShape<typeof McpConfigSchema> {
  return {
    heartbeatInterval: durationFromMs(limits.heartbeatIntervalMs),
    maxInFlight: limits.defaultMaxInFlight,
    maxPayloadBytes: limits.maxPayloadBytes,
    maxReportEvents: limits.maxReportEvents,
    reportInterval: durationFromMs(REPORT_INTERVAL_MS),
    routing,
  };
}
