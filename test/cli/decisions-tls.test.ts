/**
 * `mcp-coordinator decisions` against a coordinator serving TLS: --tls-ca trusts a private CA (here
 * the server's self-signed certificate); without it the command fails with a hint, not a hang.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { createKey } from "../../src/auth/keys.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { selfSignedCertificate, type SelfSignedCertificate } from "../support/self-signed.js";
import { runCli } from "./cli-process.js";

/** Runs `mcp-coordinator decisions <args>` to its end. */
function decisions(args: string[], env: Record<string, string>) {
  return runCli(["decisions", ...args], env);
}

describe("decisions command over TLS", function () {
  this.timeout(60_000);
  let dir: string;
  let tls: SelfSignedCertificate;
  let server: TestCoordinator;
  let address: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "mcpc-cli-tls-"));
    tls = await selfSignedCertificate(dir);
    server = await startTestCoordinator({ tlsCert: tls.certPath, tlsKey: tls.keyPath });
    // The certificate names localhost; connect by that name so it can be verified.
    address = `localhost:${server.address.split(":").at(-1)}`;
    const { token } = await createKey(server.coordinator.pool, { role: "operator", principal: "alice" });
    env = { MCPC_API_KEY: token, MCPC_TLS_CA: "" };
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists decisions when told to trust the server's CA, by flag or environment", async () => {
    const byFlag = await decisions(["list", "--json", "--address", address, "--tls-ca", tls.certPath], env);
    expect(byFlag.code, byFlag.stderr).to.equal(0);
    expect(JSON.parse(byFlag.stdout)).to.deep.equal({ decisions: [], nextPageToken: "" });
    const byEnv = await decisions(["list", "--json", "--address", address], { ...env, MCPC_TLS_CA: tls.certPath });
    expect(byEnv.code, byEnv.stderr).to.equal(0);
  });

  it("fails with a hint when the connection is plaintext or the CA is not trusted", async () => {
    // --tls alone trusts the system's CAs, which never signed this certificate. (Run side by side:
    // each retries for the CLI's few seconds before giving up.)
    const [plain, untrusted] = await Promise.all([
      decisions(["list", "--address", address], env),
      decisions(["list", "--address", address, "--tls"], env),
    ]);
    expect(plain.code).to.equal(1);
    expect(plain.stderr).to.contain("UNAVAILABLE").and.to.contain("--tls-ca");
    expect(untrusted.code).to.equal(1);
    expect(untrusted.stderr).to.contain("UNAVAILABLE");
    const missing = await decisions(["list", "--address", address, "--tls-ca", path.join(dir, "nope.pem")], env);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.contain("--tls-ca: cannot read");
  });
});
