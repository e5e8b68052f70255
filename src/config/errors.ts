/** A setting that is missing, malformed or inconsistent; the message names the setting. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
