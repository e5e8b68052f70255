/**
 * The coordinator's settings: one table that drives parsing, validation and `--help`.
 *
 * Precedence, highest first: command-line flag, environment variable, built-in default.
 */
import { existsSync, readFileSync } from "node:fs";
import { ConfigError } from "./errors.js";
import { parseDuration } from "./duration.js";
import { parseEncryptionKeys, parseHashKey, KeySettingError, type EncryptionKey, type SecretBytes } from "../interactions/privacy/keys.js";
import { DEFAULT_PRIVACY_POLICY, parsePrivacyPolicy, PrivacyPolicyError, type PrivacyRule } from "../interactions/privacy/policy.js";

/** Log levels pino understands, least to most verbose. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Every setting of the coordinator, already validated. */
export interface Config {
  /** host:port the gRPC server binds to; port 0 picks a free one. */
  listen: string;
  /** Postgres to use; when absent an embedded PostgreSQL is started under dataDir. */
  databaseUrl: string | undefined;
  /** Where the embedded PostgreSQL and the first-start admin key live. */
  dataDir: string;
  /** PEM certificate chain for TLS; TLS is on when both cert and key are set. */
  tlsCert: string | undefined;
  /** PEM private key for TLS. */
  tlsKey: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  /** How long shutdown waits for streams and writes before force-closing. */
  shutdownGraceMs: number;
  /** Port of the embedded PostgreSQL; 0 picks a free port at each start. */
  embeddedPgPort: number;
  /** Maximum connections in the Postgres pool. */
  dbPoolSize: number;
  /** How often each side of an ingest stream must send something (ms). */
  heartbeatIntervalMs: number;
  /** Largest window (events in flight per stream) granted to a client. */
  maxInFlight: number;
  /** Most events per group-commit transaction. */
  writerMaxBatch: number;
  /** Longest an event waits for a batch to fill while the writer is idle (ms). */
  writerMaxDelayMs: number;
  /** How long the database may fail before ingest streams end with UNAVAILABLE (ms). */
  unavailableAfterMs: number;
  /** Streams older than this are asked (Drain) to reconnect, spreading load across replicas (ms). */
  maxStreamAgeMs: number;
  /** Interaction data older than this is removed (hourly). */
  retentionMs: number;
  /** Hosts decision callbacks may be sent to: exact names or "*.suffix"; empty allows no callbacks. */
  callbackAllowlist: string[];
  /** Whether callback URLs may use plain http (test setups); https only otherwise. */
  callbackAllowHttp: boolean;
  /** Whether callback host names may resolve to loopback/private/link-local addresses. */
  callbackAllowPrivate: boolean;
  /** host:port of the Prometheus /metrics HTTP server; undefined: no metrics server. */
  metricsListen: string | undefined;
  /** What happens to which event fields before they are stored (drop, hash, encrypt). */
  privacy: PrivacyRule[];
  /** AES-256-GCM keys: the first encrypts, all decrypt. Empty: none configured. */
  encryptionKeys: EncryptionKey[];
  /** The HMAC key for hashed fields; undefined: the one stored in the database. */
  hashKey: SecretBytes | undefined;
}

/** One row of the settings table. */
export interface OptionSpec<K extends keyof Config = keyof Config> {
  key: K;
  /** The command-line flag; undefined for secrets, which come from the environment only (a flag would show in `ps`). */
  flag: string | undefined;
  env: string;
  /** Shown in `--help` as `--flag <valueName>`. */
  valueName: string;
  description: string;
  /** The default as a user would type it; undefined means "not set". */
  defaultValue: string | undefined;
  /** Turns the raw text into the typed value; throws ConfigError naming the setting on bad input. */
  parse: (raw: string, source: string) => Config[K];
}

function option<K extends keyof Config>(spec: OptionSpec<K>): OptionSpec<K> {
  return spec;
}

/** Every setting, in `--help` order. Adding a row here adds the flag, the variable and the help. */
export const OPTIONS = [
  option({
    key: "listen",
    flag: "listen",
    env: "MCPC_LISTEN",
    valueName: "host:port",
    description: "address the gRPC server listens on (port 0 picks a free port)",
    defaultValue: "127.0.0.1:50051",
    parse: parseListen,
  }),
  option({
    key: "databaseUrl",
    flag: "database-url",
    env: "DATABASE_URL",
    valueName: "url",
    description: "PostgreSQL connection string; unset starts an embedded PostgreSQL in the data directory",
    defaultValue: undefined,
    parse: parseDatabaseUrl,
  }),
  option({
    key: "dataDir",
    flag: "data-dir",
    env: "MCPC_DATA_DIR",
    valueName: "path",
    description: "directory for the embedded PostgreSQL and the first-start admin key",
    defaultValue: "./data",
    parse: (raw, source) => nonEmpty(raw, source),
  }),
  option({
    key: "tlsCert",
    flag: "tls-cert",
    env: "MCPC_TLS_CERT",
    valueName: "file",
    description: "PEM certificate chain; with --tls-key, serve TLS instead of plaintext",
    defaultValue: undefined,
    parse: readablePath,
  }),
  option({
    key: "tlsKey",
    flag: "tls-key",
    env: "MCPC_TLS_KEY",
    valueName: "file",
    description: "PEM private key for --tls-cert",
    defaultValue: undefined,
    parse: readablePath,
  }),
  option({
    key: "logLevel",
    flag: "log-level",
    env: "MCPC_LOG_LEVEL",
    valueName: "level",
    description: `log verbosity: ${LOG_LEVELS.join(", ")}`,
    defaultValue: "info",
    parse: (raw, source) => {
      const level = LOG_LEVELS.find((l) => l === raw.toLowerCase());
      if (!level) throw new ConfigError(`${source} must be one of ${LOG_LEVELS.join(", ")}; got "${raw}"`);
      return level;
    },
  }),
  option({
    key: "shutdownGraceMs",
    flag: "shutdown-grace",
    env: "MCPC_SHUTDOWN_GRACE",
    valueName: "duration",
    description: "how long shutdown lets streams drain and writes finish before closing them (e.g. 10s, 500ms)",
    defaultValue: "10s",
    parse: (raw, source) => parseDuration(raw, source),
  }),
  option({
    key: "embeddedPgPort",
    flag: "embedded-pg-port",
    env: "MCPC_EMBEDDED_PG_PORT",
    valueName: "port",
    description: "TCP port of the embedded PostgreSQL on 127.0.0.1 (0 picks a free one)",
    defaultValue: "0",
    parse: (raw, source) => integerIn(raw, source, 0, 65535),
  }),
  option({
    key: "dbPoolSize",
    flag: "db-pool-size",
    env: "MCPC_DB_POOL_SIZE",
    valueName: "n",
    description: "maximum PostgreSQL connections this process opens",
    defaultValue: "10",
    parse: (raw, source) => integerIn(raw, source, 1, 1000),
  }),
  option({
    key: "heartbeatIntervalMs",
    flag: "heartbeat-interval",
    env: "MCPC_HEARTBEAT_INTERVAL",
    valueName: "duration",
    description: "ingest heartbeat interval; a stream silent for 3 intervals is closed",
    defaultValue: "10s",
    parse: (raw, source) => parseDuration(raw, source),
  }),
  option({
    key: "maxInFlight",
    flag: "max-in-flight",
    env: "MCPC_MAX_IN_FLIGHT",
    valueName: "n",
    description: "largest window (unacked events per stream) granted to a client",
    defaultValue: "10000",
    parse: (raw, source) => integerIn(raw, source, 1, 1_000_000),
  }),
  option({
    key: "writerMaxBatch",
    flag: "writer-max-batch",
    env: "MCPC_WRITER_MAX_BATCH",
    valueName: "n",
    description: "most events per group-commit transaction",
    defaultValue: "1000",
    parse: (raw, source) => integerIn(raw, source, 1, 100_000),
  }),
  option({
    key: "writerMaxDelayMs",
    flag: "writer-max-delay",
    env: "MCPC_WRITER_MAX_DELAY",
    valueName: "duration",
    description: "longest an event waits for company before an idle writer commits it (0ms: at once)",
    defaultValue: "1ms",
    parse: (raw, source) => (raw.trim().replace(/ms$|s$/, "") === "0" ? 0 : parseDuration(raw, source)),
  }),
  option({
    key: "unavailableAfterMs",
    flag: "ingest-unavailable-after",
    env: "MCPC_INGEST_UNAVAILABLE_AFTER",
    valueName: "duration",
    description: "how long writes may fail (database down) before streams end with UNAVAILABLE",
    defaultValue: "30s",
    parse: (raw, source) => parseDuration(raw, source),
  }),
  option({
    key: "maxStreamAgeMs",
    flag: "max-stream-age",
    env: "MCPC_MAX_STREAM_AGE",
    valueName: "duration",
    description: "streams older than this get Drain and reconnect (spreads load across replicas)",
    defaultValue: "1h",
    parse: (raw, source) => parseDuration(raw, source),
  }),
  option({
    key: "retentionMs",
    flag: "retention",
    env: "MCPC_RETENTION",
    valueName: "duration",
    description: "interaction events and summaries older than this are removed, hourly (whole monthly partitions)",
    defaultValue: "30d",
    parse: (raw, source) => parseDuration(raw, source),
  }),
  option({
    key: "callbackAllowlist",
    flag: "callback-allowlist",
    env: "MCPC_CALLBACK_ALLOWLIST",
    valueName: "hosts",
    description: "comma-separated hosts decision callbacks may go to (hooks.example.com, *.example.com); empty: no callbacks",
    defaultValue: "",
    parse: parseHostList,
  }),
  option({
    key: "callbackAllowHttp",
    flag: "callback-allow-http",
    env: "MCPC_CALLBACK_ALLOW_HTTP",
    valueName: "true|false",
    description: "let callback URLs use plain http (test setups only); https otherwise",
    defaultValue: "false",
    parse: parseBoolean,
  }),
  option({
    key: "callbackAllowPrivate",
    flag: "callback-allow-private",
    env: "MCPC_CALLBACK_ALLOW_PRIVATE",
    valueName: "true|false",
    description: "let callback host names resolve to loopback, private or link-local addresses (internal receivers); public only otherwise",
    defaultValue: "false",
    parse: parseBoolean,
  }),
  option({
    key: "metricsListen",
    flag: "metrics-listen",
    env: "MCPC_METRICS_LISTEN",
    valueName: "host:port",
    description: "address of an HTTP server for Prometheus metrics at /metrics (port 0 picks a free port); unset or empty: none",
    defaultValue: undefined,
    parse: parseMetricsListen,
  }),
  option({
    key: "privacy",
    flag: "privacy",
    env: "MCPC_PRIVACY",
    valueName: "rules",
    description:
      "what happens to event fields before they are stored: comma-separated path=drop|hash|encrypt rules (paths: request.user_id, request.parameters[.<key>], progress.message, progress.data[.<key>], result.error_message, result.data[.<key>], error.message, error.data[.<key>], attributes[.<key>]), or none; replaces the default",
    defaultValue: DEFAULT_PRIVACY_POLICY,
    parse: (raw, source) => {
      try {
        return parsePrivacyPolicy(raw);
      } catch (error) {
        if (error instanceof PrivacyPolicyError) throw new ConfigError(`${source}: ${error.message}`);
        throw error;
      }
    },
  }),
  option({
    key: "encryptionKeys",
    flag: undefined,
    env: "MCPC_ENCRYPTION_KEYS",
    valueName: "keys",
    description:
      "keys for --privacy ...=encrypt: comma-separated <key id>:<base64 of 32 bytes>; the first encrypts, all decrypt (keep old keys listed after a rotation)",
    defaultValue: undefined,
    parse: (raw, source) => secretSetting(source, () => parseEncryptionKeys(raw)),
  }),
  option({
    key: "hashKey",
    flag: undefined,
    env: "MCPC_HASH_KEY",
    valueName: "base64",
    description: "HMAC key for --privacy ...=hash: base64 of 32 or more random bytes; unset: a key made once and stored in the database",
    defaultValue: undefined,
    parse: (raw, source) => secretSetting(source, () => parseHashKey(raw)),
  }),
] as const satisfies readonly OptionSpec<keyof Config>[];

/** Parses a key setting; its errors name the setting and never the key. */
function secretSetting<T>(source: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof KeySettingError) throw new ConfigError(`${source}: ${error.message}`);
    throw error;
  }
}

function nonEmpty(raw: string, source: string): string {
  if (raw.trim() === "") throw new ConfigError(`${source} must not be empty`);
  return raw;
}

function integerIn(raw: string, source: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ConfigError(`${source} must be a whole number from ${min} to ${max}; got "${raw}"`);
  }
  return value;
}

function parseBoolean(raw: string, source: string): boolean {
  const value = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(value)) return true;
  if (["false", "0", "no", "off"].includes(value)) return false;
  throw new ConfigError(`${source} must be true or false; got "${raw}"`);
}

/** A comma-separated host list: exact host names or "*.suffix" patterns, no schemes, paths or ports. */
function parseHostList(raw: string, source: string): string[] {
  const hosts = raw.split(",").map((h) => h.trim()).filter((h) => h !== "");
  for (const host of hosts) {
    const name = host.startsWith("*.") ? host.slice(2) : host;
    // Host names (IDN too), IPv4, and IPv6 in brackets as URLs write it ([::1]); a scheme, port,
    // path or a lone "*" is a mistake the allowlist would silently never match.
    if (!/^(?:[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]+)*\.?|\[[0-9a-fA-F:.]+\])$/u.test(name)) {
      throw new ConfigError(`${source} must list host names or *.suffix patterns separated by commas (e.g. hooks.example.com,*.example.org); got "${host}"`);
    }
  }
  return hosts;
}

function parseListen(raw: string, source: string): string {
  // host:port, [ipv6]:port, or unix:/path (grpc-js understands all three).
  if (raw.startsWith("unix:")) return nonEmpty(raw, source);
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(raw);
  if (!match || Number(match[2]) > 65535) {
    throw new ConfigError(`${source} must look like host:port (e.g. 127.0.0.1:50051 or 0.0.0.0:0); got "${raw}"`);
  }
  return raw;
}

function parseMetricsListen(raw: string, source: string): string | undefined {
  if (raw.trim() === "") return undefined;
  // host:port or [ipv6]:port: node:http listens on TCP only here.
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(raw);
  if (!match || Number(match[2]) > 65535) {
    throw new ConfigError(`${source} must look like host:port (e.g. 0.0.0.0:9464 or 127.0.0.1:0); got "${raw}"`);
  }
  return raw;
}

function parseDatabaseUrl(raw: string, source: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Never echo the value: it may hold a password.
    throw new ConfigError(`${source} is not a valid URL (expected postgres://user:password@host:port/database)`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(`${source} must start with postgres:// or postgresql://; got "${url.protocol}//..."`);
  }
  return raw;
}

function readablePath(raw: string, source: string): string {
  nonEmpty(raw, source);
  if (!existsSync(raw)) throw new ConfigError(`${source}: file "${raw}" does not exist`);
  try {
    readFileSync(raw);
  } catch (error) {
    throw new ConfigError(`${source}: cannot read "${raw}": ${(error as Error).message}`);
  }
  return raw;
}
