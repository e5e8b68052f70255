/**
 * Runs `buf curl` (shipped in @bufbuild/buf; a grpcurl-compatible client) against a test server.
 */
import { execFile, spawn } from "node:child_process";
import path from "node:path";

const BUF = path.resolve(import.meta.dirname, "../../node_modules/.bin/buf");

/** What buf curl printed and how it exited. */
export interface BufCurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs buf curl with gRPC over plaintext HTTP/2.
 *
 * @param args - further arguments (the URL last).
 * @param input - written to buf curl's stdin (for `-d @-`, e.g. the messages of a stream).
 */
export function bufCurl(args: string[], timeoutMs = 30_000, input?: string): Promise<BufCurlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      BUF,
      ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args],
      { timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** A buf curl process left running (a server stream), with what it printed so far. */
export interface RunningBufCurl {
  stdout(): string;
  stderr(): string;
  /** Kills it (if still running). */
  stop(): void;
}

/** Starts buf curl like {@link bufCurl}, without waiting for it to exit. */
export function startBufCurl(args: string[]): RunningBufCurl {
  const child = spawn(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}
