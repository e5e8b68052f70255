import { expect } from "chai";
import { mintKey, parseKey, secretMatches } from "../../src/auth/api-key.js";

describe("API key format", () => {
  it("mints keys that parse back to their id and match their own hash only", () => {
    const a = mintKey();
    const b = mintKey();
    const parsed = parseKey(a.token)!;
    expect(parsed.id).to.equal(a.id);
    expect(secretMatches(parsed.secret, a.secretSha256)).to.equal(true);
    expect(secretMatches(parsed.secret, b.secretSha256)).to.equal(false);
    expect(a.id).to.not.equal(b.id);
  });

  it("rejects tokens that are not shaped like keys", () => {
    for (const token of ["", "mcpc_", "mcpc_xyz_abc", `mcpd_0123456789abcdef_${"a".repeat(43)}`, `mcpc_0123456789abcdef_${"a".repeat(42)}`]) {
      expect(parseKey(token), token).to.equal(undefined);
    }
  });
});
