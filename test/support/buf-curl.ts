/**
 * Runs `buf curl` (shipped in @bufbuild/buf; a grpcurl-compatible client) against a test server.
 */
import { execFile } from "node:child_process";
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
