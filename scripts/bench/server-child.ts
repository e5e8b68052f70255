/**
 * The coordinator under test, in its own process (so its CPU and memory are its own): started
 * in-process with startCoordinator on the benchmark's database, with the durable group-commit
 * writer (tuned by the parent) or the echo sink (ceiling a). Driven over IPC by ingest.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { writeHeapSnapshot } from "node:v8";
import path from "node:path";
import { loadConfig } from "../../src/config/load.js";
import { startCoordinator, type Coordinator } from "../../src/coordinator.js";
import { createLogger } from "../../src/logger.js";
import type { WriterOptions } from "../../src/interactions/writer-contract.js";
import { EchoSink } from "./echo-sink.js";
import { notifyParent, serveParent } from "./proc.js";

let coordinator: Coordinator | undefined;
// How long timers and I/O callbacks waited for the event loop: acks and pg replies queue behind
// whatever else the one thread is doing. Reset at the start of each measured window.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
let dataDir: string | undefined;

serveParent(
  {
    async start(body) {
      const { databaseUrl, sink, writer, poolSize, logLevel, env } = body as unknown as {
        databaseUrl: string;
        sink: "durable" | "echo";
        writer: WriterOptions;
        poolSize: number;
        logLevel: string;
        /** Settings given as MCPC_* variables (e.g. MCPC_PRIVACY), read like the real environment. */
        env?: Record<string, string>;
      };
      dataDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-bench-server-"));
      const logger = createLogger(logLevel ?? "warn");
      coordinator = await startCoordinator(
        {
          // Every setting at its built-in default (not this environment's) or as the parent set
          // it in `env`, then ours.
          ...loadConfig({}, env ?? {}),
          listen: "127.0.0.1:0",
          databaseUrl,
          dataDir,
          logLevel: "warn",
          shutdownGraceMs: 5_000,
          dbPoolSize: poolSize,
        },
        { logger, writer, ...(sink === "echo" ? { ingestSink: new EchoSink() } : {}) },
      );
      return { port: coordinator.port };
    },
    stats() {
      const memory = process.memoryUsage();
      return {
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        external: memory.external,
        arrayBuffers: memory.arrayBuffers,
        openStreams: coordinator?.ingest.openStreams ?? 0,
        writer: coordinator?.ingest.writer.stats() ?? {},
        loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
      };
    },
    resetLoopDelay() {
      loopDelay.reset();
      return {};
    },
    heapSnapshot(body) {
      return { file: writeHeapSnapshot(body.file as string) };
    },
    gc() {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) {
        gc();
        gc();
      }
      return { collected: Boolean(gc) };
    },
  },
  async () => {
    await coordinator?.shutdown();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  },
);
notifyParent("ready");
