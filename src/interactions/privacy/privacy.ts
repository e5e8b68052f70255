/**
 * The privacy policy, assembled (the seeds' PrivacyProtectionModule): protect events at ingest,
 * reveal them to readers. Built once per coordinator from the configuration.
 */
import type { Pool } from "pg";
import type { Logger } from "pino";
import type { InteractionEvent } from "../../../gen/coordinator/v1/interaction_event_pb.js";
import type { Interaction } from "../../../gen/coordinator/v1/interaction_pb.js";
import { ConfigError } from "../../config/errors.js";
import { SecretBytes, type EncryptionKey } from "./keys.js";
import { FieldCipher, FieldHasher } from "./markers.js";
import { ruleText, usesAction, type PrivacyRule } from "./policy.js";
import { EventProtector } from "./protect.js";
import { FieldRevealer } from "./reveal.js";
import { deploymentSecret } from "../../store/deployment-secrets.js";

/** The deployment_secrets row of the hash key used when MCPC_HASH_KEY is not set. */
export const PRIVACY_HASH_KEY_NAME = "privacy-hash-key";

/** What the policy needs from the configuration. */
export interface PrivacySettings {
  rules: readonly PrivacyRule[];
  /** The first encrypts, all decrypt; may be empty when no rule encrypts. */
  encryptionKeys: readonly EncryptionKey[];
  /** The HMAC key; undefined: the one stored in the database (made at first need). */
  hashKey: SecretBytes | undefined;
}

/**
 * Why these settings cannot work together, or undefined. (The configuration loader asks, to
 * refuse them before anything starts; the Privacy constructor asks again for callers that build
 * a Config by hand.)
 */
export function privacySettingsProblem(settings: PrivacySettings): string | undefined {
  if (usesAction(settings.rules, "encrypt") && settings.encryptionKeys.length === 0) {
    const rules = settings.rules.filter((r) => r.action === "encrypt").map(ruleText).join(",");
    return `the privacy policy encrypts (${rules}) but MCPC_ENCRYPTION_KEYS is not set (set it to <key id>:<base64 of 32 bytes>, e.g. k1:$(openssl rand -base64 32))`;
  }
  return undefined;
}

/** See the module comment. */
export class Privacy {
  readonly #rules: readonly PrivacyRule[];
  readonly #protector: EventProtector;
  readonly #revealer: FieldRevealer;
  #hasher: FieldHasher | undefined;

  /** @throws ConfigError when the settings cannot work together (see privacySettingsProblem). */
  constructor(settings: PrivacySettings, logger: Logger) {
    const problem = privacySettingsProblem(settings);
    if (problem) throw new ConfigError(problem);
    this.#rules = settings.rules;
    this.#hasher = settings.hashKey ? new FieldHasher(settings.hashKey) : undefined;
    const cipher = new FieldCipher(settings.encryptionKeys);
    this.#protector = new EventProtector(settings.rules, { cipher, hasher: () => this.#hasher });
    this.#revealer = new FieldRevealer(cipher, logger.child({ component: "privacy" }));
  }

  /** The policy as rule text, e.g. ["request.user_id=hash"] (for the start-up log). */
  get rules(): string[] {
    return this.#rules.map(ruleText);
  }

  /**
   * Loads the database's hash key when the policy hashes and MCPC_HASH_KEY is not set (making
   * one at the first start). Until then, events that need hashing are refused as UNAVAILABLE.
   */
  async prepare(pool: Pool, logger: Logger): Promise<void> {
    if (this.#hasher || !usesAction(this.#rules, "hash")) return;
    this.#hasher = new FieldHasher(new SecretBytes(await deploymentSecret(pool, PRIVACY_HASH_KEY_NAME)));
    logger.warn(
      "MCPC_HASH_KEY is not set: hashing with the key stored in the database (deployment_secrets), shared by every replica. " +
        "Whoever can read the database can then recompute hashes of guessed values; set MCPC_HASH_KEY to keep the key out of it",
    );
  }

  /**
   * Applies the policy to an event at ingest, in place.
   *
   * @returns which parts changed (privacy/splice.ts's CHANGED_* bits; 0: none), for
   *   spliceChanged.
   * @throws IngestError unavailable while the stored hash key is not loaded yet (start-up).
   */
  protect(event: InteractionEvent): number {
    return this.#protector.protect(event);
  }

  /**
   * Reveals a stored event to a reader, in place: decrypted when `canDecrypt` (see mayDecrypt),
   * encrypted values redacted to `enc:<key id>` otherwise. Every read path that returns stored
   * events (GetInteraction, WatchInteractions) calls this once per event.
   *
   * @returns how many values were decrypted (for the access audit's `decrypted`).
   */
  revealFields(event: InteractionEvent, canDecrypt: boolean): number {
    return this.#revealer.revealFields(event, canDecrypt);
  }

  /** The same for an interaction summary (user_id, error_message, last_progress). */
  revealSummary(interaction: Interaction, canDecrypt: boolean): number {
    return this.#revealer.revealSummary(interaction, canDecrypt);
  }
}

/** A policy with no rules and no keys: stores events as sent (tests, benchmarks). */
export function noPrivacy(logger: Logger): Privacy {
  return new Privacy({ rules: [], encryptionKeys: [], hashKey: undefined }, logger);
}
