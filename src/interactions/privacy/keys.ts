/**
 * The privacy keys from the environment: MCPC_ENCRYPTION_KEYS (AES-256-GCM, `id:base64,...`, the
 * first one encrypts, all decrypt) and MCPC_HASH_KEY (the HMAC key, base64, 32 bytes or more).
 */
import { inspect } from "node:util";

/**
 * Key material that never shows up in logs, JSON or `console.log` by accident: pino, JSON.stringify
 * and util.inspect all print "[secret]".
 */
export class SecretBytes {
  readonly #bytes: Buffer;
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }
  /** The key itself, for node:crypto. */
  get bytes(): Buffer {
    return this.#bytes;
  }
  toJSON(): string {
    return "[secret]";
  }
  toString(): string {
    return "[secret]";
  }
  [inspect.custom](): string {
    return "[secret]";
  }
}

/** One AES-256 key and the id stored with every value it encrypts. */
export interface EncryptionKey {
  id: string;
  key: SecretBytes;
}

/** Key ids: short, and free of the ":" that separates a marker's parts. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** A key setting that cannot be used; the message names the key id or position, never key bytes. */
export class KeySettingError extends Error {
  override name = "KeySettingError";
}

/**
 * Parses `id:base64(32 bytes),id:base64,...`. The first key encrypts new values; every listed key
 * decrypts (keep retired keys listed while rows encrypted under them are kept).
 *
 * @throws KeySettingError for a malformed entry, a key that is not 32 bytes, or an id given twice.
 */
export function parseEncryptionKeys(raw: string): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  const entries = raw.split(",").map((e) => e.trim()).filter((e) => e !== "");
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(":");
    const id = colon < 0 ? "" : entry.slice(0, colon);
    const where = `entry ${index + 1}${KEY_ID_PATTERN.test(id) ? ` (key id ${id})` : ""}`;
    if (!KEY_ID_PATTERN.test(id)) {
      throw new KeySettingError(`${where} must look like <key id>:<base64 of 32 random bytes>, the key id 1-32 of [A-Za-z0-9_-]`);
    }
    const bytes = decodeBase64(entry.slice(colon + 1));
    if (bytes?.length !== 32) {
      throw new KeySettingError(`${where}: the key must be 32 bytes in base64 (make one with: openssl rand -base64 32)`);
    }
    if (keys.some((k) => k.id === id)) throw new KeySettingError(`${where}: key id ${id} is listed twice`);
    keys.push({ id, key: new SecretBytes(bytes) });
  });
  if (keys.length === 0) throw new KeySettingError("lists no key (expected <key id>:<base64 of 32 bytes>,...)");
  return keys;
}

/**
 * Parses the HMAC key: base64 of at least 32 bytes.
 *
 * @throws KeySettingError when it is not base64 or too short.
 */
export function parseHashKey(raw: string): SecretBytes {
  const bytes = decodeBase64(raw.trim());
  if (!bytes || bytes.length < 32) {
    throw new KeySettingError("must be base64 of at least 32 random bytes (make one with: openssl rand -base64 32)");
  }
  return new SecretBytes(bytes);
}

/** Strict base64 (standard or url alphabet, padding optional); undefined when it is not. */
function decodeBase64(text: string): Buffer | undefined {
  // Buffer.from skips characters it does not know; a typo must not silently make a shorter key.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return undefined;
  return Buffer.from(text.replaceAll("-", "+").replaceAll("_", "/"), "base64");
}
