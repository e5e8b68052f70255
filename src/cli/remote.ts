/**
 * What the commands that talk to a running coordinator (`decisions`, `interactions`) share: where
 * to connect, with which key and TLS settings, and how a refused call is told to the person.
 */
import { readFile } from "node:fs/promises";
import { ClientError, Status } from "nice-grpc";
import type { Config } from "../config/options.js";
import { UsageError } from "./usage-error.js";

/** The connection flags every remote command takes. */
export interface RemoteFlags {
  address?: string | undefined;
  "api-key"?: string | undefined;
  tls?: boolean | undefined;
  "tls-ca"?: string | undefined;
}

/** Where and how to connect: the address, the bearer key and the channel's TLS settings. */
export interface RemoteTarget {
  address: string;
  apiKey: string;
  /** false: plaintext; rootCerts undefined: the system's CAs. */
  tls: false | { rootCerts: Buffer | undefined };
}

/**
 * A call the server refused or could not serve: printed as "STATUS: details" with exit status 1
 * (not 2: the command line was fine).
 */
export class RemoteCallError extends Error {
  override name = "RemoteCallError";
}

/**
 * Resolves the connection flags: --address (default: the configured --listen address), the key
 * from --api-key or MCPC_API_KEY, and TLS from --tls / --tls-ca / MCPC_TLS_CA.
 *
 * @param keyHint - what the usage error says when there is no key, e.g. "decisions needs an API key: ...".
 * @throws UsageError without a key, or when the CA file cannot be read.
 */
export async function remoteTarget(config: Config, flags: RemoteFlags, env: NodeJS.ProcessEnv, keyHint: string): Promise<RemoteTarget> {
  const apiKey = flags["api-key"] ?? env.MCPC_API_KEY;
  if (!apiKey) throw new UsageError(keyHint);
  return { address: flags.address ?? clientAddress(config.listen), apiKey, tls: await clientTls(flags, env) };
}

/**
 * TLS for the connection: `--tls-ca <file>` (or MCPC_TLS_CA) trusts that PEM file's certificates
 * (a private CA, or a self-signed server certificate); `--tls` alone trusts the system's CAs.
 */
async function clientTls(flags: RemoteFlags, env: NodeJS.ProcessEnv): Promise<RemoteTarget["tls"]> {
  const caFile = flags["tls-ca"] ?? env.MCPC_TLS_CA;
  if (!caFile) return flags.tls === true ? { rootCerts: undefined } : false;
  try {
    return { rootCerts: await readFile(caFile) };
  } catch (error) {
    throw new UsageError(`--tls-ca: cannot read ${caFile} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** Where to reach the configured server from this host: a wildcard listen address means loopback. */
export function clientAddress(listen: string): string {
  const match = /^(.*):(\d+)$/.exec(listen);
  if (!match || match[2] === "0") return "127.0.0.1:50051";
  const host = ["0.0.0.0", "::", "[::]", ""].includes(match[1]!) ? "127.0.0.1" : match[1]!;
  return `${host}:${match[2]}`;
}

/** "STATUS: details", with a hint for the two statuses whose details alone do not say what to do. */
export function explainCallError(error: ClientError): string {
  if (error.code === Status.UNIMPLEMENTED) return `UNIMPLEMENTED: the server does not offer this yet (${error.details})`;
  if (error.code === Status.UNAVAILABLE) return `UNAVAILABLE: cannot reach the coordinator (${error.details}); check --address, and --tls or --tls-ca <file> if it serves TLS`;
  return `${Status[error.code]}: ${error.details}`;
}
