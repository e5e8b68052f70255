/**
 * Shared pieces of the crash drills: the reporter child, counting stored events.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Pool } from "pg";

const CHILD = fileURLToPath(new URL("./reporter-child.ts", import.meta.url));

/** A running reporter child and what it printed. */
export interface ReporterChild {
  child: ChildProcess;
  output(): string;
  /** The stats line it printed at the end. */
  result(timeoutMs: number): Promise<{ code: number | null; stats: Record<string, unknown> }>;
}

/** Starts the drill's MCP process. */
export function startReporterChild(config: { address: string; apiKey: string; spoolDir: string; count: number; prefix: string; flushMs: number }): ReporterChild {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
    env: { ...process.env, MCPC_DRILL: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => output,
    async result(timeoutMs) {
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      const line = output.trim().split("\n").at(-1) ?? "{}";
      let stats: Record<string, unknown> = {};
      try {
        stats = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // The child died before printing; the caller's assertion on code reports it.
      }
      return { code, stats };
    },
  };
}

/** Stored events of an MCP, and how many distinct event ids among them. */
export async function storedEvents(pool: Pool, mcpId: string): Promise<{ rows: number; distinct: number }> {
  const { rows } = await pool.query<{ rows: number; distinct: number }>(
    "SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS distinct FROM interaction_events WHERE mcp_id = $1",
    [mcpId],
  );
  return rows[0]!;
}
