/**
 * The logging interface the reporter writes to, and a silent default.
 */

/**
 * A minimal structured logger. Each method takes a context object first and a message second, the
 * order pino uses, so a pino (or bunyan) logger fits as is; `console` fits too.
 */
export interface ReporterLogger {
  debug(context: Record<string, unknown>, message: string): void;
  info(context: Record<string, unknown>, message: string): void;
  warn(context: Record<string, unknown>, message: string): void;
  error(context: Record<string, unknown>, message: string): void;
}

const noop = (): void => undefined;

/** The default logger: says nothing. Problems still reach `reporter.on('error', ...)`. */
export const silentLogger: ReporterLogger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * Wraps a user-supplied logger so that a logger that throws can never break the reporter (nor,
 * through it, the MCP that called it).
 */
export function safeLogger(logger: ReporterLogger): ReporterLogger {
  const wrap =
    (level: keyof ReporterLogger) =>
    (context: Record<string, unknown>, message: string): void => {
      try {
        logger[level](context, message);
      } catch {
        // A broken logger must not turn a report into an exception; nothing else to tell.
      }
    };
  return { debug: wrap("debug"), info: wrap("info"), warn: wrap("warn"), error: wrap("error") };
}
