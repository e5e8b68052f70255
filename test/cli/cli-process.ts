/**
 * The `mcp-coordinator` command run as a real child process, as a person or script would run it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { waitFor } from "../support/database.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** A CLI process with its output so far. */
export interface CliSession {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Waits until stdout (after what earlier waits consumed) contains `text`. */
  expectOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Waits until stderr (after what earlier waits consumed) contains `text`. */
  expectError(text: string, timeoutMs?: number): Promise<void>;
  send(line: string): void;
  exited(): Promise<number | null>;
}

/** Starts `mcp-coordinator <args>` with `env` on top of this process's environment. */
export function startCli(args: string[], env: Record<string, string>): CliSession {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const streams = { stdout: "", stderr: "" };
  const consumed = { stdout: 0, stderr: 0 };
  child.stdout!.on("data", (chunk: Buffer) => (streams.stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (streams.stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const expect = (stream: "stdout" | "stderr") => async (text: string, timeoutMs = 15_000) => {
    await waitFor(
      () => {
        const at = streams[stream].indexOf(text, consumed[stream]);
        if (at >= 0) consumed[stream] = at + text.length;
        return at >= 0;
      },
      { timeoutMs, message: `${stream} "${text}" (stdout: ${streams.stdout}; stderr: ${streams.stderr})` },
    );
  };
  return {
    child,
    stdout: () => streams.stdout,
    stderr: () => streams.stderr,
    expectOutput: expect("stdout"),
    expectError: expect("stderr"),
    send: (line) => child.stdin!.write(`${line}\n`),
    exited: () => exit,
  };
}

/** Runs `mcp-coordinator <args>` with no input to its end (killed after `timeoutMs`). */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const session = startCli(args, env);
  session.child.stdin!.end();
  const timer = setTimeout(() => session.child.kill("SIGKILL"), timeoutMs);
  try {
    const code = await session.exited();
    return { code, stdout: session.stdout(), stderr: session.stderr() };
  } finally {
    clearTimeout(timer);
  }
}
