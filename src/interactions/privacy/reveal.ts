/**
 * The read side of the privacy policy: what a reader gets for the encrypted values of stored
 * events and summaries. Admin readers get them decrypted (under any key still listed in
 * MCPC_ENCRYPTION_KEYS, so rows written before a rotation still read); every other reader gets
 * them redacted to `enc:<key id>`. Hashed values are returned as stored to everyone: a hash is
 * the value's stored form, not a secret.
 *
 * Whatever the policy is today, every field a policy can name is looked at: a field encrypted
 * under yesterday's policy still decrypts.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import type { InteractionEvent } from "../../../gen/coordinator/v1/interaction_event_pb.js";
import type { Interaction } from "../../../gen/coordinator/v1/interaction_pb.js";
import { fieldsOf, type DetailCase, type FieldSpec } from "./fields.js";
import { isEncrypted, redacted, type FieldCipher } from "./markers.js";

/** Distinct decryption failures logged (key id and reason); beyond it they are not logged. */
const MAX_LOGGED_FAILURES = 100;

type Holder = Record<string, unknown>;

/** See the module comment. */
export class FieldRevealer {
  readonly #cipher: FieldCipher;
  readonly #logger: Logger;
  readonly #logged = new Set<string>();
  readonly #byDetail = new Map<DetailCase, FieldSpec[]>(
    (["request", "progress", "result", "error"] as const).map((c) => [c, fieldsOf(c)]),
  );
  readonly #onEvent = fieldsOf(undefined);

  constructor(cipher: FieldCipher, logger: Logger) {
    this.#cipher = cipher;
    this.#logger = logger;
  }

  /**
   * Reveals one event's protected fields in place, for a reader who may (or may not) decrypt.
   *
   * @param canDecrypt - whether the reader may see encrypted fields in clear (see mayDecrypt).
   * @returns how many values were decrypted (0: the reader saw nothing encrypted in clear).
   */
  revealFields(event: InteractionEvent, canDecrypt: boolean): number {
    let decrypted = 0;
    const detail = event.detail;
    if (detail.case !== undefined) decrypted += this.#revealHolder(this.#byDetail.get(detail.case)!, detail.value as unknown as Holder, canDecrypt);
    decrypted += this.#revealHolder(this.#onEvent, event as unknown as Holder, canDecrypt);
    return decrypted;
  }

  /**
   * Reveals an interaction summary's protected columns in place: user_id, error_message (from
   * error.message or result.error_message) and last_progress.
   *
   * @returns how many values were decrypted.
   */
  revealSummary(interaction: Interaction, canDecrypt: boolean): number {
    let decrypted = 0;
    const reveal = (value: string, paths: readonly string[]): string => {
      if (!isEncrypted(value)) return value;
      const plaintext = this.#reveal(value, paths, canDecrypt);
      if (plaintext === undefined) return canDecrypt ? value : redacted(value);
      decrypted++;
      return plaintext;
    };
    interaction.userId = reveal(interaction.userId, ["request.user_id"]);
    // The summary does not say which event the message came from; the AAD tells.
    interaction.errorMessage = reveal(interaction.errorMessage, ["error.message", "result.error_message"]);
    if (interaction.lastProgress) decrypted += this.#revealHolder(this.#byDetail.get("progress")!, interaction.lastProgress as unknown as Holder, canDecrypt);
    return decrypted;
  }

  #revealHolder(fields: readonly FieldSpec[], holder: Holder, canDecrypt: boolean): number {
    let decrypted = 0;
    for (const field of fields) {
      const value = holder[field.property];
      if (field.kind === "text") {
        if (typeof value !== "string" || !isEncrypted(value)) continue;
        const plaintext = canDecrypt ? this.#reveal(value, [field.path], true) : undefined;
        if (plaintext !== undefined) decrypted++;
        holder[field.property] = plaintext ?? (canDecrypt ? value : redacted(value));
        continue;
      }
      if (!value) continue;
      const struct = value as JsonObject;
      for (const key of Object.keys(struct)) {
        const item = struct[key];
        if (typeof item !== "string" || !isEncrypted(item)) continue;
        if (!canDecrypt) {
          struct[key] = redacted(item);
          continue;
        }
        const json = this.#reveal(item, [`${field.path}.${key}`], true);
        if (json === undefined) continue;
        try {
          struct[key] = JSON.parse(json) as JsonObject;
          decrypted++;
        } catch {
          // Authentic but not JSON: only a text field's ciphertext is, and the AAD rules that out.
        }
      }
    }
    return decrypted;
  }

  /** The plaintext of `marker` under the first path whose AAD authenticates it; undefined if none. */
  #reveal(marker: string, paths: readonly string[], canDecrypt: boolean): string | undefined {
    if (!canDecrypt) return undefined;
    let failure: { failure: string; keyId: string } | undefined;
    for (const path of paths) {
      const result = this.#cipher.decrypt(marker, path);
      if ("plaintext" in result) return result.plaintext;
      failure = result;
      if (result.failure === "unknown key") break;
    }
    this.#logOnce(failure!, paths[0]!);
    return undefined;
  }

  #logOnce({ failure, keyId }: { failure: string; keyId: string }, path: string): void {
    const what = `${keyId}\u0000${failure}`;
    if (this.#logged.has(what) || this.#logged.size >= MAX_LOGGED_FAILURES) return;
    this.#logged.add(what);
    if (failure === "unknown key") {
      this.#logger.warn({ keyId, path }, "a stored value is encrypted under a key id not in MCPC_ENCRYPTION_KEYS; returned encrypted (logged once per key id)");
    } else {
      this.#logger.warn({ keyId, path }, "a stored encrypted value failed authentication (altered, moved between fields, or not made by a coordinator); returned as stored (logged once per key id)");
    }
  }
}
