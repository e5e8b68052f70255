/**
 * The reporter's options: what callers may set, the defaults, and validation.
 */
import os from "node:os";
import path from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { EventMetadataSchema } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { safeLogger, silentLogger, type ReporterLogger } from "./logger.js";

/** Retry timing for reconnecting the stream: exponential backoff with full jitter. */
export interface BackoffOptions {
  /** The first retry waits up to this long (ms). Default 250. */
  initialMs?: number;
  /** No retry waits longer than this (ms). Default 30,000. */
  maxMs?: number;
}

/** Everything {@link createReporter} accepts. Only `address` and `apiKey` are required. */
export interface ReporterOptions {
  /** The coordinator, `host:port` (or `http://host:port` / `https://host:port`). */
  address: string;
  /** The MCP's API key, sent as `authorization: Bearer <apiKey>`. */
  apiKey: string;
  /**
   * The MCP this reporter reports for. Optional with an mcp key (the key names its MCP); required
   * with an admin key. Also names the spool file.
   */
  mcpId?: string;
  /** false: every call is a no-op that succeeds; no files, no network. Default true. */
  enabled?: boolean;
  /**
   * Directory of the durable spool (created if missing). Default: `<os tmpdir>/mcp-coordinator-spool`.
   * `false`: no spool (events are kept in memory only and lost if the process dies).
   */
  spoolDir?: string | false;
  /** Upper bound on the spool file's size in bytes. Default 64 MiB. See {@link createReporter} for the overflow policy. */
  maxSpoolBytes?: number;
  /** Events older than this (ms since they were reported) are dropped instead of sent. Default 7 days. */
  maxSpoolAgeMs?: number;
  /**
   * Upper bound on events held in memory (queued or in flight). When reached, new events are
   * dropped (counted in `stats().dropped`, reported via 'error'). Default 100,000.
   */
  maxQueuedEvents?: number;
  /** The window to ask the server for (events sent and not yet acked). Default: the server's default. */
  maxInFlight?: number;
  /** Reconnect timing. */
  backoff?: BackoffOptions;
  /** TLS: `true` for the system's root CAs, `{ rootCerts }` for a private CA; default false (plaintext). */
  tls?: boolean | { rootCerts?: Buffer };
  /** Facts about this MCP attached to every event (mcp_type, mcp_version, environment, region). */
  metadata?: MessageInitShape<typeof EventMetadataSchema>;
  /** Where the reporter logs; default silent. pino and console fit. */
  logger?: ReporterLogger;
  /**
   * The longest (ms) `track()` waits, after its function settled, for the completion or failure
   * event to be acknowledged by the coordinator. Default 0: reporting never waits for the network.
   * The synchronous calls (`started`, `progress`, `completed`, `failed`) never wait, whatever this is.
   */
  callBound?: number;
  /** Identifies this process to the coordinator (ListMcps). Default `<hostname>/pid-<pid>`. */
  instanceId?: string;
}

/** Options with every default applied; used internally. */
export interface ResolvedOptions {
  address: string;
  apiKey: string;
  mcpId: string | undefined;
  enabled: boolean;
  spoolDir: string | undefined;
  maxSpoolBytes: number;
  maxSpoolAgeMs: number;
  maxQueuedEvents: number;
  maxInFlight: number;
  backoff: { initialMs: number; maxMs: number };
  tls: false | { rootCerts: Buffer | undefined };
  metadata: MessageInitShape<typeof EventMetadataSchema> | undefined;
  logger: ReporterLogger;
  callBound: number;
  instanceId: string;
}

/** Defaults, in one place so docs and code agree. */
export const DEFAULTS = {
  maxSpoolBytes: 64 * 1024 * 1024,
  maxSpoolAgeMs: 7 * 24 * 60 * 60 * 1000,
  maxQueuedEvents: 100_000,
  backoffInitialMs: 250,
  backoffMaxMs: 30_000,
} as const;

/** Version sent in Hello.client_version. */
export const CLIENT_VERSION = "mcp-coordinator-client/0.1.0";

/** A reporter option with a bad value; the message names the option. */
export class ReporterOptionsError extends TypeError {
  override name = "ReporterOptionsError";
}

/**
 * Applies defaults and checks every option.
 *
 * @throws ReporterOptionsError naming the option. This is the only place the reporter throws: a
 *   misconfiguration is found once, at startup, rather than silently losing every event.
 */
export function resolveOptions(options: ReporterOptions): ResolvedOptions {
  if (options === null || typeof options !== "object") throw new ReporterOptionsError("createReporter: options must be an object");
  const enabled = options.enabled ?? true;
  if (typeof enabled !== "boolean") throw new ReporterOptionsError("createReporter: enabled must be a boolean");
  // A disabled reporter needs neither an address nor a key: that is how MCPs run without a coordinator.
  if (enabled) {
    requireText("address", options.address);
    requireText("apiKey", options.apiKey);
  }
  if (options.mcpId !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(options.mcpId)) {
    throw new ReporterOptionsError("createReporter: mcpId must be 1-128 characters of letters, digits and . _ : -");
  }
  const backoff = {
    initialMs: positive("backoff.initialMs", options.backoff?.initialMs, DEFAULTS.backoffInitialMs),
    maxMs: positive("backoff.maxMs", options.backoff?.maxMs, DEFAULTS.backoffMaxMs),
  };
  if (backoff.maxMs < backoff.initialMs) throw new ReporterOptionsError("createReporter: backoff.maxMs must be >= backoff.initialMs");
  let tls: ResolvedOptions["tls"] = false;
  if (options.tls === true) tls = { rootCerts: undefined };
  else if (options.tls && typeof options.tls === "object") tls = { rootCerts: options.tls.rootCerts };
  const spoolDir =
    options.spoolDir === false ? undefined : options.spoolDir ?? path.join(os.tmpdir(), "mcp-coordinator-spool");
  return {
    address: options.address,
    apiKey: options.apiKey,
    mcpId: options.mcpId,
    enabled,
    spoolDir,
    maxSpoolBytes: positive("maxSpoolBytes", options.maxSpoolBytes, DEFAULTS.maxSpoolBytes),
    maxSpoolAgeMs: positive("maxSpoolAgeMs", options.maxSpoolAgeMs, DEFAULTS.maxSpoolAgeMs),
    maxQueuedEvents: positive("maxQueuedEvents", options.maxQueuedEvents, DEFAULTS.maxQueuedEvents),
    maxInFlight: nonNegative("maxInFlight", options.maxInFlight, 0),
    backoff,
    tls,
    metadata: options.metadata,
    logger: safeLogger(options.logger ?? silentLogger),
    callBound: nonNegative("callBound", options.callBound, 0),
    instanceId: options.instanceId ?? `${os.hostname()}/pid-${process.pid}`.slice(0, 128),
  };
}

function requireText(name: string, value: unknown): void {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ReporterOptionsError(`createReporter: ${name} is required (a non-empty string)`);
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new ReporterOptionsError(`createReporter: ${name} must be a positive number; got ${String(value)}`);
  }
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new ReporterOptionsError(`createReporter: ${name} must be a number >= 0; got ${String(value)}`);
  }
  return value;
}
