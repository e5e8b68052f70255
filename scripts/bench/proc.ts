/**
 * Child processes of the benchmark and what the parent reads about processes: a forked child
 * (running TypeScript through tsx) with request/response messages over IPC, resident memory from
 * /proc/<pid>/status, and CPU time from /proc/<pid>/stat (including a Postgres server's backends).
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** A message from a child: a reply to a request (`id`), or a notification (`event`). */
export interface ChildMessage {
  id?: number;
  event?: string;
  error?: string;
  [key: string]: unknown;
}

/** A forked child speaking the request/reply protocol of child-main.ts. */
export class Child {
  readonly process: ChildProcess;
  readonly #pending = new Map<number, { resolve: (value: ChildMessage) => void; reject: (error: Error) => void }>();
  readonly #listeners = new Map<string, ((message: ChildMessage) => void)[]>();
  readonly exited: Promise<number | null>;
  /** Resolves when the child has said "ready" (its IPC handlers are installed). */
  readonly ready: Promise<void>;
  #nextId = 1;

  /**
   * Forks `script` (relative to this directory) with tsx loaded.
   *
   * @param nodeFlags - extra node flags (e.g. --cpu-prof, --expose-gc).
   */
  constructor(script: string, nodeFlags: string[] = []) {
    const path = fileURLToPath(new URL(script, import.meta.url));
    this.process = fork(path, [], { execArgv: ["--import", "tsx", ...nodeFlags], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.process.on("message", (message: ChildMessage) => {
      if (message.id !== undefined) {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error !== undefined) pending?.reject(new Error(`${script}: ${message.error}`));
        else pending?.resolve(message);
      } else if (message.event) {
        for (const listener of this.#listeners.get(message.event) ?? []) listener(message);
      }
    });
    this.ready = new Promise((resolve, reject) => {
      this.on("ready", () => resolve());
      this.process.on("exit", (code) => reject(new Error(`${script} exited (code ${code}) before it was ready`)));
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => {
      this.process.on("exit", (code) => {
        for (const { reject } of this.#pending.values()) reject(new Error(`${script} exited (code ${code}) before answering`));
        this.#pending.clear();
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  /** Sends a request; resolves with the child's reply. */
  request<T extends ChildMessage = ChildMessage>(command: string, body: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: ChildMessage) => void, reject });
      this.process.send({ id, command, ...body });
    });
  }

  /** Calls `listener` for every notification `event`. */
  on(event: string, listener: (message: ChildMessage) => void): void {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
  }

  /** Asks the child to exit (it answers "stop" then exits); kills it if it has not within `ms`. */
  async stop(ms = 15_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.request("stop").catch(() => undefined);
    const timer = setTimeout(() => this.process.kill("SIGKILL"), ms);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * The child's side: answers requests with `handlers[command](body)`; "stop" runs `onStop` then
 * exits. A parent that goes away (IPC disconnect) stops the child too, so nothing is left behind.
 */
export function serveParent(
  handlers: Record<string, (body: ChildMessage) => Promise<Record<string, unknown>> | Record<string, unknown>>,
  onStop: () => Promise<void> = async () => undefined,
): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await onStop().catch((error: unknown) => console.error("bench child: stop failed:", error));
    process.disconnect?.();
    process.exit(0);
  };
  process.on("disconnect", () => void stop());
  process.on("message", (message: ChildMessage & { command: string }) => {
    if (message.command === "stop") {
      process.send?.({ id: message.id });
      void stop();
      return;
    }
    const handler = handlers[message.command];
    if (!handler) {
      process.send?.({ id: message.id, error: `unknown command ${message.command}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message))
      .then(
        (reply) => process.send?.({ ...reply, id: message.id }),
        (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
}

/** Sends a notification to the parent. */
export function notifyParent(event: string, body: Record<string, unknown> = {}): void {
  process.send?.({ event, ...body });
}

/** Resident set size of `pid` in bytes (VmRSS of /proc/<pid>/status). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) of `pid` in ms; 0 if it is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 (1-based) of the whole line: 12 and 13 here (0-based, from state).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * CPU time (ms) of process `rootPid` plus its live direct children (a postmaster and its
 * backends) plus the children it has reaped (backends that ended).
 */
export function treeCpuMs(rootPid: number): number {
  let total = cpuMs(rootPid);
  try {
    const stat = readFileSync(`/proc/${rootPid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // cutime and cstime: fields 16 and 17 (1-based) of the whole line.
    total += ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === rootPid) total += ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
    } catch {
      // The process ended between readdir and read.
    }
  }
  return total;
}

/** CPU time (ms) the whole machine spent busy (all cores, from /proc/stat), since boot. */
export function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / TICKS_PER_SECOND;
}
