/**
 * The stored forms of protected values, and the crypto that makes and reads them (node:crypto):
 *
 * - hashed: `hmac:<base64url of the first 16 bytes of HMAC-SHA256(key, value)>`. 16 bytes (128
 *   bits) keep accidental collisions out of reach (about 2^64 distinct values before one is
 *   likely) at half the width of the full digest, which the summary column and its joins store
 *   for every interaction. The same value gives the same hash in every field, so a user id
 *   hashed in request.user_id joins with the same id hashed in an attribute.
 * - encrypted: `enc:<key id>:<base64url(12-byte IV | ciphertext | 16-byte GCM tag)>`, AES-256-GCM
 *   with a random IV, and the field's path as additional authenticated data: a ciphertext moved
 *   to another field fails to decrypt instead of showing up there.
 * - redacted (what a reader without the right to decrypt gets): `enc:<key id>`. Not the
 *   ciphertext: its length would hint at the value's.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import type { EncryptionKey, SecretBytes } from "./keys.js";

const HASH_PREFIX = "hmac:";
const ENC_PREFIX = "enc:";
const HASH_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MARKER = /^enc:([A-Za-z0-9_-]{1,32}):([A-Za-z0-9_-]+)$/;

/**
 * A FieldHasher remembers the hashes of the values it met in its last two generations of up to
 * this many distinct values each (so between RECENT_HASHES and twice as many), and keeps values
 * up to RECENT_VALUE_MAX characters long.
 */
const RECENT_HASHES = 2_048;
const RECENT_VALUE_MAX = 256;

/** Keyed hashes of values. */
export class FieldHasher {
  readonly #key: Buffer;
  // Why: the same user id comes back with every interaction of that user, and an HMAC is most of
  // what the default policy costs per STARTED event (scripts/bench/privacy-cost.ts). Why two
  // generations rather than a least-recently-used list: when the young one is full it becomes the
  // old one and the old one is dropped whole, so neither a hit nor a miss pays for bookkeeping
  // (evicting the oldest entry of one Map one by one cost as much as the HMAC it saved, at the
  // benchmark's 40% hit rate). The values are plaintext that passed through this process's
  // memory anyway.
  #young = new Map<string, string>();
  #old = new Map<string, string>();

  constructor(key: SecretBytes) {
    this.#key = key.bytes;
  }

  /** The stored form of `value` (UTF-8). */
  hash(value: string): string {
    const young = this.#young.get(value);
    if (young !== undefined) return young;
    let hashed = this.#old.get(value);
    if (hashed === undefined) {
      const digest = createHmac("sha256", this.#key).update(value, "utf8").digest();
      hashed = HASH_PREFIX + digest.subarray(0, HASH_BYTES).toString("base64url");
    }
    if (value.length <= RECENT_VALUE_MAX) {
      if (this.#young.size >= RECENT_HASHES) {
        this.#old = this.#young;
        this.#young = new Map();
      }
      this.#young.set(value, hashed);
    }
    return hashed;
  }
}

/** Why a marker was not decrypted. */
export type DecryptFailure = "unknown key" | "not authentic";

/** AES-256-GCM encryption of values under the current key, decryption under any listed key. */
export class FieldCipher {
  readonly #current: EncryptionKey | undefined;
  readonly #byId: Map<string, Buffer>;

  /** @param keys - the first encrypts; all decrypt. May be empty (then nothing decrypts). */
  constructor(keys: readonly EncryptionKey[]) {
    this.#current = keys[0];
    this.#byId = new Map(keys.map((k) => [k.id, k.key.bytes]));
  }

  /** The id of the key new values are encrypted with; undefined when no key is configured. */
  get currentKeyId(): string | undefined {
    return this.#current?.id;
  }

  /**
   * The stored form of `plaintext` in the field at `path`.
   *
   * @throws Error when no key is configured (the configuration check prevents it).
   */
  encrypt(plaintext: string, path: string): string {
    const current = this.#current;
    if (!current) throw new Error("no encryption key configured (MCPC_ENCRYPTION_KEYS)");
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", current.key.bytes, iv);
    cipher.setAAD(Buffer.from(path, "utf8"));
    const body = Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `${ENC_PREFIX}${current.id}:${body.toString("base64url")}`;
  }

  /**
   * The plaintext of an encrypted marker found in the field at `path`.
   *
   * @returns the plaintext, or why it cannot be had.
   */
  decrypt(marker: string, path: string): { plaintext: string } | { failure: DecryptFailure; keyId: string } {
    const match = MARKER.exec(marker)!;
    const keyId = match[1]!;
    const key = this.#byId.get(keyId);
    if (!key) return { failure: "unknown key", keyId };
    const body = Buffer.from(match[2]!, "base64url");
    if (body.length < IV_BYTES + TAG_BYTES) return { failure: "not authentic", keyId };
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, body.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(path, "utf8"));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString("utf8");
      return { plaintext };
    } catch {
      // A wrong tag: altered, moved from another field, or not one of ours.
      return { failure: "not authentic", keyId };
    }
  }
}

/** Whether a stored value is an encryption marker (`enc:<key id>:<data>`). */
export function isEncrypted(value: string): boolean {
  return value.startsWith(ENC_PREFIX) && MARKER.test(value);
}

/** What a reader who may not decrypt sees instead of a marker: `enc:<key id>`. */
export function redacted(marker: string): string {
  return marker.slice(0, marker.indexOf(":", ENC_PREFIX.length));
}
