/**
 * The registry's domain types: plain objects with no protobuf or gRPC in them. The transport maps
 * coordinator.v1 messages to and from these (src/transport/registry-handlers.ts).
 */
import type { Principal } from "../auth/authenticator.js";

/** One network endpoint of an MCP. */
export interface McpEndpoint {
  name: string;
  url: string;
  /** "" when not stated. */
  protocol: string;
}

/** Resources an MCP needs; 0 means not stated. */
export interface ResourceRequirements {
  cpuCores: number;
  memoryMb: number;
  gpuCount: number;
  gpuMemoryMb: number;
}

/** What an MCP says about itself (all strings "" when not stated). */
export interface McpInfo {
  name: string;
  version: string;
  type: string;
  capabilities: string[];
  supportedFormats: string[];
  endpoints: McpEndpoint[];
  resources: ResourceRequirements;
  description: string;
  environment: string;
  region: string;
}

/** How routing (RankMcps) treats an MCP. */
export interface RoutingConfig {
  priority: number;
  /** 0 to 100; 0 takes the MCP out of rankings. */
  weight: number;
  /** 0: the server default. */
  maxConcurrency: number;
}

/** One open stream of an MCP on some coordinator replica. */
export interface McpConnection {
  streamId: string;
  /** The MCP process holding the stream (Hello.instance_id). */
  instanceId: string;
  /** The coordinator replica serving it. */
  coordinatorInstance: string;
  connectedSince: Date;
  clientVersion: string;
}

/** A registered MCP as the registry knows it. */
export interface McpRecord {
  mcpId: string;
  /** undefined when the MCP was only registered implicitly (it streamed, never called RegisterMcp). */
  info: McpInfo | undefined;
  routing: RoutingConfig;
  registeredAt: Date;
  updatedAt: Date;
  /** undefined: never heard from. */
  lastSeen: Date | undefined;
  /** At least one stream open on a live replica. */
  connected: boolean;
  /** Those streams, oldest first. */
  connections: McpConnection[];
}

/** Who asks for a registration: derived from the API key, never from the request. */
export type RegistryCaller = Pick<Principal, "keyId" | "role" | "mcpId">;

/** A RegisterMcp request in domain terms. */
export interface RegisterRequest {
  /** "" = the caller's own MCP (mcp keys), or a new server-made id (admin). */
  mcpId: string;
  /** Required; undefined is an "info" error. */
  info: McpInfo | undefined;
  /** undefined: keep the current settings (defaults on first registration). Admin only. */
  routing: RoutingConfig | undefined;
  /** Also create an mcp API key for this MCP. Admin only. */
  issueApiKey: boolean;
}

/** The outcome of a registration. */
export interface RegisterResult {
  mcp: McpRecord;
  /** True when this call created the row (false after an implicit or earlier registration). */
  created: boolean;
  /** The new key's token when one was issued; shown only once. */
  apiKey: string | undefined;
}

/** A ListMcps request in domain terms. */
export interface ListRequest {
  /** 0: the default (50); above the maximum (500): the maximum; negative: invalid. */
  pageSize: number;
  /** "" for the first page. */
  pageToken: string;
  /** "" for any. */
  capability: string;
  connectedOnly: boolean;
}

/** One page of MCPs, ordered by mcp_id. */
export interface ListResult {
  mcps: McpRecord[];
  /** "" when this is the last page. */
  nextPageToken: string;
}

/** The kinds of {@link RegistryError}: a bad value, or a value this caller may not send. */
export type RegistryErrorKind = "invalid" | "permission";

/**
 * A request the registry refuses. `field` is the request path a client can fix, e.g.
 * "info.capabilities[3]"; the transport maps kind "invalid" to INVALID_ARGUMENT and "permission"
 * to PERMISSION_DENIED.
 */
export class RegistryError extends Error {
  override name = "RegistryError";
  constructor(
    readonly kind: RegistryErrorKind,
    readonly field: string,
    /** What is wrong, without the field name (the message prefixes it). */
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}
