/**
 * Structured JSON logs (pino) on stdout. Secrets never reach them: fields that could carry one are
 * redacted here as a second line of defence, and code never logs tokens or passwords to begin with.
 */
import { pino, type Logger } from "pino";

/**
 * Creates the process logger.
 *
 * @param level - minimum level written.
 * @param destination - a writable stream; defaults to stdout.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "mcp-coordinator", pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ["authorization", "*.authorization", "token", "*.token", "password", "*.password", "connectionString", "*.connectionString"],
        censor: "[redacted]",
      },
    },
    destination as pino.DestinationStream | undefined,
  );
}
