/**
 * Resolves the coordinator's settings from flags, environment and defaults (in that order).
 */
import { ConfigError } from "./errors.js";
import { OPTIONS, type Config, type OptionSpec } from "./options.js";
import { privacySettingsProblem } from "../interactions/privacy/privacy.js";

/** The raw flag values as parsed from the command line (`util.parseArgs` values). */
export type FlagValues = Partial<Record<string, string | boolean | string[] | boolean[] | undefined>>;

/**
 * Builds a validated Config.
 *
 * @param flags - command-line values keyed by flag name (e.g. `"data-dir"`).
 * @param env - the environment (usually `process.env`).
 * @throws ConfigError naming the flag or variable at fault.
 */
export function loadConfig(flags: FlagValues, env: NodeJS.ProcessEnv): Config {
  const config: Record<string, unknown> = {};
  for (const spec of OPTIONS as readonly OptionSpec[]) {
    const flagValue = spec.flag === undefined ? undefined : flags[spec.flag];
    const envValue = env[spec.env];
    let raw: string | undefined;
    let source: string;
    if (typeof flagValue === "string") {
      raw = flagValue;
      source = `--${spec.flag}`;
    } else if (envValue !== undefined && envValue !== "") {
      raw = envValue;
      source = spec.env;
    } else {
      raw = spec.defaultValue;
      source = `the default ${spec.flag ?? spec.env}`;
    }
    config[spec.key] = raw === undefined ? undefined : spec.parse(raw, source);
  }
  // No key configured: an empty key list, so a Config always has one.
  config.encryptionKeys ??= [];
  const result = config as unknown as Config;
  if ((result.tlsCert === undefined) !== (result.tlsKey === undefined)) {
    throw new ConfigError("--tls-cert and --tls-key (MCPC_TLS_CERT, MCPC_TLS_KEY) must be set together");
  }
  const privacyProblem = privacySettingsProblem({ rules: result.privacy, encryptionKeys: result.encryptionKeys, hashKey: result.hashKey });
  if (privacyProblem) throw new ConfigError(`--privacy (MCPC_PRIVACY): ${privacyProblem}`);
  return result;
}

/** The `parseArgs` option table for every setting (all take a string value). */
export function configArgOptions(): Record<string, { type: "string" }> {
  return Object.fromEntries(
    (OPTIONS as readonly OptionSpec[]).flatMap((spec) => (spec.flag === undefined ? [] : [[spec.flag, { type: "string" as const }]])),
  );
}

/** `--help` lines describing every setting, its variable and default. */
export function configHelp(): string {
  return (OPTIONS as readonly OptionSpec[])
    .map((spec) => {
      const left = spec.flag === undefined ? `  ${spec.env}=<${spec.valueName}>` : `  --${spec.flag} <${spec.valueName}>`;
      const def = spec.defaultValue === undefined ? "" : ` (default: ${spec.defaultValue})`;
      const env = spec.flag === undefined ? "environment only (a secret: no flag, which would show in ps)" : `env: ${spec.env}`;
      return `${left.padEnd(34)} ${spec.description}${def}\n${"".padEnd(35)}${env}`;
    })
    .join("\n");
}
