/**
 * Runs the real `mcp-coordinator` command in a child process, for tests that signal or kill it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** A running (or finished) coordinator process. */
export interface CoordinatorProcess {
  child: ChildProcess;
  /** JSON log records written to stdout so far. */
  logs: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first log record matching `predicate`; rejects after `timeoutMs` or on exit. */
  waitForLog(predicate: (record: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal name); rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | string>;
  /** SIGKILLs the process if it is still running. */
  kill(): void;
}

/**
 * Starts `mcp-coordinator <args>` with `env` added to this process's environment.
 */
export function runCoordinator(args: string[], env: Record<string, string | undefined> = {}): CoordinatorProcess {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ msg: line, unparsed: true });
    }
    for (const wake of waiters) wake();
  });
  const exit = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  let exitValue: number | string | undefined;
  void exit.then((value) => {
    exitValue = value;
    for (const wake of waiters) wake();
  });

  return {
    child,
    logs,
    stderr: () => stderr,
    waitForLog(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(predicate);
          if (found) return finish(() => resolve(found));
          if (exitValue !== undefined) {
            return finish(() => reject(new Error(`process exited (${exitValue}) before the log line; stderr: ${stderr}`)));
          }
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`))),
          timeoutMs,
        );
        const finish = (action: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          action();
        };
        waiters.add(check);
        check();
      });
    },
    exited(timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`process still running after ${timeoutMs} ms`)), timeoutMs);
        void exit.then((value) => {
          clearTimeout(timer);
          resolve(value);
        });
      });
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** Waits for the "coordinator serving" log line and returns the bound port. */
export async function servingPort(proc: CoordinatorProcess, timeoutMs = 60_000): Promise<number> {
  const record = await proc.waitForLog((r) => r.msg === "coordinator serving", timeoutMs);
  return record.port as number;
}
