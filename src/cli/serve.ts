/**
 * `mcp-coordinator serve`: run until SIGTERM/SIGINT, then shut down gracefully.
 */
import type { Config } from "../config/options.js";
import { startCoordinator, type Coordinator } from "../coordinator.js";
import { createLogger } from "../logger.js";
import { adminKeyBanner } from "./banner.js";

/**
 * Runs the server; resolves with the exit status once it has shut down.
 */
export async function runServe(config: Config): Promise<number> {
  const logger = createLogger(config.logLevel);
  // A rejected promise nobody awaited is a bug, but not one that should take every open stream
  // down with it: log it loudly and keep serving.
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled promise rejection"));

  let coordinator: Coordinator | undefined;
  let stopRequested: { reason: string; exitCode: number } | undefined;
  let finished: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finished = resolve));

  const stop = (reason: string, exitCode: number) => {
    if (stopRequested) {
      // A second signal while draining means "now".
      logger.warn({ reason }, "second stop request; exiting without waiting");
      process.exit(1);
    }
    stopRequested = { reason, exitCode };
    logger.info({ reason }, "stop requested");
    if (coordinator) {
      shutdown(coordinator, exitCode);
    } else {
      // During startup: honoured once startup finishes (below). Startup can wait on things that
      // never come (another replica holding the migration lock), so it gets the grace period too.
      setTimeout(() => {
        logger.error({ graceMs: config.shutdownGraceMs }, "still starting after the grace period; exiting");
        process.exit(1);
      }, config.shutdownGraceMs).unref();
    }
  };
  const shutdown = (running: Coordinator, exitCode: number) =>
    running.shutdown().then(
      () => finished(exitCode),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        finished(1);
      },
    );

  // Installed before starting, so a signal that arrives while the database starts is not lost.
  process.on("SIGTERM", () => stop("SIGTERM", 0));
  process.on("SIGINT", () => stop("SIGINT", 0));
  process.on("uncaughtException", (error) => {
    // State may be inconsistent after this: stop cleanly rather than keep going.
    logger.fatal({ err: error }, "uncaught exception; shutting down");
    stop("uncaughtException", 1);
  });

  coordinator = await startCoordinator(config, { logger });
  if (coordinator.bootstrap.created) {
    // Shown once, on stderr, outside the JSON log stream; never logged.
    process.stderr.write(adminKeyBanner(coordinator.bootstrap, {
        listen: config.listen,
        port: coordinator.port,
        tls: config.tlsCert !== undefined,
      }));
  }
  logger.info({ port: coordinator.port }, "coordinator serving");
  if (stopRequested) shutdown(coordinator, stopRequested.exitCode);
  const code = await done;
  // Everything we opened is closed; a handle someone leaked must not keep the process alive.
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}
