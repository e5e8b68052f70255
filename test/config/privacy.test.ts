/**
 * The privacy settings: --privacy / MCPC_PRIVACY rules, the environment-only keys
 * (MCPC_ENCRYPTION_KEYS, MCPC_HASH_KEY), and the errors that stop a start, which never show a key.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { ConfigError } from "../../src/config/errors.js";
import { configArgOptions, configHelp, loadConfig } from "../../src/config/load.js";
import { ruleText } from "../../src/interactions/privacy/policy.js";
import { runCoordinator } from "../support/process.js";

const k32 = () => randomBytes(32).toString("base64");

function refusal(flags: Record<string, string>, env: Record<string, string>): string {
  try {
    loadConfig(flags, env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  return expect.fail("the configuration was accepted");
}

describe("privacy configuration", () => {
  it("hashes request.user_id by default; none turns every rule off; a setting replaces the default", () => {
    expect(loadConfig({}, {}).privacy.map(ruleText)).to.deep.equal(["request.user_id=hash"]);
    expect(loadConfig({ privacy: "none" }, {}).privacy).to.deep.equal([]);
    expect(loadConfig({}, { MCPC_PRIVACY: "NONE" }).privacy).to.deep.equal([]);
    const config = loadConfig(
      { privacy: " request.user_id=hash , error.data=encrypt,request.parameters.ssn=drop,attributes.email=HASH,progress.message=drop,result.data=encrypt" },
      { MCPC_PRIVACY: "none", MCPC_ENCRYPTION_KEYS: `k1:${k32()}` },
    );
    expect(config.privacy.map(ruleText)).to.deep.equal([
      "request.user_id=hash",
      "error.data=encrypt",
      "request.parameters.ssn=drop",
      "attributes.email=hash",
      "progress.message=drop",
      "result.data=encrypt",
    ]);
    expect(config.encryptionKeys.map((k) => k.id)).to.deep.equal(["k1"]);
    expect(loadConfig({}, {}).encryptionKeys).to.deep.equal([]);
    expect(loadConfig({}, {}).hashKey).to.equal(undefined);
  });

  it("names the rule at fault: unknown field (listing the supported ones), unknown action, nested key, repeats, empty", () => {
    const unknown = refusal({ privacy: "request.user=hash" }, {});
    expect(unknown).to.contain("--privacy").and.contain('unknown field "request.user"').and.contain("request.user_id, request.parameters, request.parameters.<key>");
    expect(refusal({}, { MCPC_PRIVACY: "request.user_id=scramble" })).to.contain("MCPC_PRIVACY").and.contain('unknown action "scramble"');
    expect(refusal({ privacy: "request.parameters.user.ssn=drop" }, {})).to.contain("only top-level keys");
    expect(refusal({ privacy: "request.parameters.=drop" }, {})).to.contain("key after request.parameters. is missing");
    expect(refusal({ privacy: "request.user_id=hash,request.user_id=drop" }, {})).to.contain("listed twice");
    expect(refusal({ privacy: "request.user_id" }, {})).to.contain("is not path=action");
    expect(refusal({ privacy: "" }, {})).to.contain("write none");
  });

  it("refuses encrypt rules without MCPC_ENCRYPTION_KEYS, naming the variable", () => {
    const message = refusal({ privacy: "error.data=encrypt" }, {});
    expect(message).to.contain("MCPC_ENCRYPTION_KEYS is not set").and.contain("error.data=encrypt");
  });

  it("reads keys from the environment only, checks them, and never echoes them", () => {
    const secret = k32();
    const keys = loadConfig({}, { MCPC_ENCRYPTION_KEYS: `new:${secret}, old:${k32()}`, MCPC_HASH_KEY: k32() });
    expect(keys.encryptionKeys.map((k) => k.id)).to.deep.equal(["new", "old"]);
    expect(keys.encryptionKeys[0]!.key.bytes.toString("base64")).to.equal(secret);
    expect(keys.hashKey!.bytes).to.have.length(32);
    expect(JSON.stringify(keys)).to.not.contain(secret);

    const short = randomBytes(16).toString("base64");
    const refusals = [
      refusal({}, { MCPC_ENCRYPTION_KEYS: `k1:${short}` }),
      refusal({}, { MCPC_ENCRYPTION_KEYS: `k1:${secret},k1:${k32()}` }),
      refusal({}, { MCPC_ENCRYPTION_KEYS: secret }),
      refusal({}, { MCPC_ENCRYPTION_KEYS: `k 1:${secret}` }),
      refusal({}, { MCPC_ENCRYPTION_KEYS: `k1:${secret.slice(0, -4)}!!!!` }),
      refusal({}, { MCPC_HASH_KEY: short }),
      refusal({}, { MCPC_HASH_KEY: `${secret}#` }),
    ];
    expect(refusals[0]).to.contain("MCPC_ENCRYPTION_KEYS").and.contain("key id k1").and.contain("32 bytes");
    expect(refusals[1]).to.contain("listed twice");
    expect(refusals[2]).to.contain("entry 1 must look like <key id>:<base64");
    expect(refusals[5]).to.contain("MCPC_HASH_KEY").and.contain("at least 32");
    for (const message of refusals) expect(message).to.not.contain(secret.slice(0, 12)).and.not.contain(short.slice(0, 12));

    // No flag for a key: it would show in the process list.
    expect(Object.keys(configArgOptions())).to.include("privacy").and.not.include("encryption-keys").and.not.include("hash-key");
    expect(configHelp()).to.contain("MCPC_ENCRYPTION_KEYS=<keys>").and.contain("MCPC_HASH_KEY=<base64>").and.contain("environment only");
  });

  it("exits 2 at start when the policy encrypts without keys, before touching any database", async () => {
    const proc = runCoordinator(["serve", "--privacy", "request.user_id=encrypt"], { DATABASE_URL: "postgres://127.0.0.1:1/never" });
    expect(await proc.exited(30_000)).to.equal(2);
    expect(proc.stderr()).to.contain("MCPC_ENCRYPTION_KEYS is not set");
  });
});
