/**
 * Human-typed durations for settings and flags (`10s`, `500ms`, `90d`).
 */
import { ConfigError } from "./errors.js";

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a human duration such as `500ms`, `10s`, `2m`, `1h` or `7d` (a bare number means seconds).
 *
 * @param raw - the text as typed.
 * @param source - names the setting in the error message (e.g. `--shutdown-grace`).
 * @returns milliseconds.
 * @throws ConfigError when the text is not a positive duration.
 */
export function parseDuration(raw: string, source: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!match) {
    throw new ConfigError(`${source} must be a duration like 500ms, 10s, 2m or 1h; got "${raw}"`);
  }
  const ms = Number(match[1]) * UNITS_MS[match[2] ?? "s"]!;
  if (!(ms > 0)) throw new ConfigError(`${source} must be greater than zero; got "${raw}"`);
  return Math.round(ms);
}
