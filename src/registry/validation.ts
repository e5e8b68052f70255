/**
 * The registry's input rules, from the comments of proto/coordinator/v1/registry.proto. Every
 * failure is a RegistryError naming the request field a client can fix ("info.endpoints[2].url").
 */
import { MCP_ID_PATTERN } from "../mcp-id.js";
import { pageSizeOf } from "../store/page-size.js";
import { RegistryError, type McpInfo, type RoutingConfig } from "./types.js";

// One rule for MCP ids everywhere (keys, streams, the registry, filters).
export { MCP_ID_PATTERN };

const TEXT_MAX = 256;
const DESCRIPTION_MAX = 4_096;
const CAPABILITY_MAX = 128;
const CAPABILITIES_MAX = 100;
const FORMATS_MAX = 100;
const ENDPOINTS_MAX = 20;
const WEIGHT_MAX = 100;
// routing_max_concurrency is a Postgres integer; uint32 values above this cannot be stored.
const INT32_MAX = 2 ** 31 - 1;


/** @throws RegistryError (invalid) when `mcpId` does not match {@link MCP_ID_PATTERN}. */
export function checkMcpId(mcpId: string, field = "mcp_id"): void {
  if (!MCP_ID_PATTERN.test(mcpId)) {
    throw invalid(field, `must be 1 to 128 characters from [A-Za-z0-9._:-], starting with a letter or digit; got ${quote(mcpId)}`);
  }
}

/**
 * Checks and normalises an McpInfo: strings trimmed, duplicate capabilities and formats dropped
 * (keeping the first), so RankMcps' exact-match lookups are not defeated by stray whitespace.
 *
 * @returns the normalised info.
 * @throws RegistryError (invalid) naming the first bad field.
 */
export function checkInfo(info: McpInfo | undefined): McpInfo {
  if (!info) throw invalid("info", "is required (the MCP's description, replaced as a whole)");
  const name = text(info.name, "info.name", TEXT_MAX);
  if (!name) throw invalid("info.name", "is required");
  if (info.capabilities.length > CAPABILITIES_MAX) {
    throw invalid("info.capabilities", `has ${info.capabilities.length} entries; at most ${CAPABILITIES_MAX}`);
  }
  if (info.supportedFormats.length > FORMATS_MAX) {
    throw invalid("info.supported_formats", `has ${info.supportedFormats.length} entries; at most ${FORMATS_MAX}`);
  }
  if (info.endpoints.length > ENDPOINTS_MAX) {
    throw invalid("info.endpoints", `has ${info.endpoints.length} entries; at most ${ENDPOINTS_MAX}`);
  }
  const endpoints = info.endpoints.map((endpoint, i) => {
    const field = `info.endpoints[${i}]`;
    const endpointName = text(endpoint.name, `${field}.name`, TEXT_MAX);
    if (!endpointName) throw invalid(`${field}.name`, "is required within an endpoint");
    const url = text(endpoint.url, `${field}.url`, TEXT_MAX);
    if (!url) throw invalid(`${field}.url`, "is required within an endpoint");
    return { name: endpointName, url, protocol: text(endpoint.protocol, `${field}.protocol`, TEXT_MAX) };
  });
  const { resources } = info;
  return {
    name,
    version: text(info.version, "info.version", TEXT_MAX),
    type: text(info.type, "info.type", TEXT_MAX),
    capabilities: list(info.capabilities, "info.capabilities", CAPABILITY_MAX),
    supportedFormats: list(info.supportedFormats, "info.supported_formats", TEXT_MAX),
    endpoints,
    resources: {
      cpuCores: amount(resources.cpuCores, "info.resources.cpu_cores", false),
      memoryMb: amount(resources.memoryMb, "info.resources.memory_mb", true),
      gpuCount: amount(resources.gpuCount, "info.resources.gpu_count", true),
      gpuMemoryMb: amount(resources.gpuMemoryMb, "info.resources.gpu_memory_mb", true),
    },
    description: text(info.description, "info.description", DESCRIPTION_MAX),
    environment: text(info.environment, "info.environment", TEXT_MAX),
    region: text(info.region, "info.region", TEXT_MAX),
  };
}

/** @throws RegistryError (invalid) when a routing value is out of range. */
export function checkRouting(routing: RoutingConfig): RoutingConfig {
  if (!Number.isInteger(routing.priority) || routing.priority < -INT32_MAX - 1 || routing.priority > INT32_MAX) {
    throw invalid("routing.priority", `must be a 32-bit integer; got ${routing.priority}`);
  }
  if (!Number.isFinite(routing.weight) || routing.weight < 0 || routing.weight > WEIGHT_MAX) {
    throw invalid("routing.weight", `must be between 0 and ${WEIGHT_MAX}; got ${routing.weight}`);
  }
  if (!Number.isInteger(routing.maxConcurrency) || routing.maxConcurrency < 0 || routing.maxConcurrency > INT32_MAX) {
    throw invalid("routing.max_concurrency", `must be between 0 and ${INT32_MAX}; got ${routing.maxConcurrency}`);
  }
  return { ...routing };
}

/** @returns the effective page size. @throws RegistryError (invalid) when negative. */
export function checkPageSize(pageSize: number): number {
  return pageSizeOf(pageSize, (problem) => invalid("page_size", problem));
}

/** @throws RegistryError (invalid) when the capability filter could never match. */
export function checkCapabilityFilter(capability: string): void {
  if ([...capability].length > CAPABILITY_MAX) throw invalid("capability", `must be at most ${CAPABILITY_MAX} characters`);
}

function text(value: string, field: string, max: number): string {
  const trimmed = value.trim();
  // Code points, not UTF-16 units: "256 characters" should mean what a person would count.
  const length = [...trimmed].length;
  if (length > max) throw invalid(field, `must be at most ${max} characters; got ${length}`);
  return trimmed;
}

function list(values: string[], field: string, max: number): string[] {
  const seen = new Set<string>();
  values.forEach((value, i) => {
    const entry = text(value, `${field}[${i}]`, max);
    if (!entry) throw invalid(`${field}[${i}]`, "must not be empty");
    seen.add(entry);
  });
  return [...seen];
}

function amount(value: number, field: string, integer: boolean): number {
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isSafeInteger(value))) {
    throw invalid(field, `must be ${integer ? "a whole number" : "a number"} from 0 (not stated) up; got ${value}`);
  }
  return value;
}

function invalid(field: string, reason: string): RegistryError {
  return new RegistryError("invalid", field, reason);
}

function quote(value: string): string {
  return JSON.stringify(value.length > 140 ? `${value.slice(0, 140)}…` : value);
}
