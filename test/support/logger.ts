/**
 * The logger tests hand to the code under test: silent unless TEST_LOG_LEVEL asks otherwise
 * (e.g. `TEST_LOG_LEVEL=debug npx mocha test/store` to see postgres's own log lines).
 */
import { pino } from "pino";
import type { Logger } from "pino";
import type { ReporterLogger } from "../../src/client/logger.js";

let shared: Logger | undefined;

/** Returns the test logger (one per process; level from TEST_LOG_LEVEL, default "silent"). */
export function testLogger(): Logger {
  shared ??= pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  return shared;
}

/** A client logger that keeps the warnings, so a test can see the client really retried or reattached. */
export function recordingLogger(): { warnings: string[]; logger: ReporterLogger } {
  const warnings: string[] = [];
  const noop = () => undefined;
  return { warnings, logger: { debug: noop, info: noop, error: noop, warn: (_context, message) => warnings.push(message) } };
}
