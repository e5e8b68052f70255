/**
 * FieldHasher: the keyed hash of a value is the HMAC-SHA256 the README documents, whether it was
 * just computed or remembered from an earlier call, including after older values were forgotten.
 */
import { expect } from "chai";
import { createHmac, randomBytes } from "node:crypto";
import { SecretBytes } from "../../src/interactions/privacy/keys.js";
import { FieldHasher } from "../../src/interactions/privacy/markers.js";

describe("FieldHasher", () => {
  const key = randomBytes(32);
  const expected = (value: string) => `hmac:${createHmac("sha256", key).update(value, "utf8").digest().subarray(0, 16).toString("base64url")}`;

  it("gives the keyed hash of each value, computed or remembered, across more values than it remembers", () => {
    const hasher = new FieldHasher(new SecretBytes(key));
    const values = Array.from({ length: 10_000 }, (_, i) => `user-${i % 5_000}-ü`);
    values.push("x".repeat(1_000), "x".repeat(1_000), "");
    for (const value of [...values, ...values.slice().reverse()]) expect(hasher.hash(value), value.slice(0, 20)).to.equal(expected(value));
  });

  it("differs under another key", () => {
    const other = new FieldHasher(new SecretBytes(randomBytes(32)));
    const hasher = new FieldHasher(new SecretBytes(key));
    expect(hasher.hash("user-1")).to.equal(hasher.hash("user-1"));
    expect(other.hash("user-1")).to.not.equal(hasher.hash("user-1"));
  });
});
