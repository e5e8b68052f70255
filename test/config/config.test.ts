import { expect } from "chai";
import { ConfigError } from "../../src/config/errors.js";
import { loadConfig } from "../../src/config/load.js";
import { runCoordinator } from "../support/process.js";

describe("configuration", () => {
  it("uses defaults, then the environment, then flags, in rising precedence", () => {
    expect(loadConfig({}, {}).listen).to.equal("127.0.0.1:50051");
    expect(loadConfig({}, { MCPC_LISTEN: "0.0.0.0:6000" }).listen).to.equal("0.0.0.0:6000");
    expect(loadConfig({ listen: "127.0.0.1:7000" }, { MCPC_LISTEN: "0.0.0.0:6000" }).listen).to.equal("127.0.0.1:7000");
    expect(loadConfig({}, { MCPC_SHUTDOWN_GRACE: "1.5s" }).shutdownGraceMs).to.equal(1500);
  });

  it("parses the callback allowlist and the http and private-address switches", () => {
    expect(loadConfig({}, {})).to.include({ callbackAllowHttp: false, callbackAllowPrivate: false });
    expect(loadConfig({}, { MCPC_CALLBACK_ALLOW_PRIVATE: "true" }).callbackAllowPrivate).to.equal(true);
    expect(loadConfig({}, {}).callbackAllowlist).to.deep.equal([]);
    const config = loadConfig({ "callback-allowlist": " hooks.example.com, *.example.org ,127.0.0.1,[::1]" }, { MCPC_CALLBACK_ALLOW_HTTP: "true" });
    expect(config.callbackAllowlist).to.deep.equal(["hooks.example.com", "*.example.org", "127.0.0.1", "[::1]"]);
    expect(config.callbackAllowHttp).to.equal(true);
    expect(() => loadConfig({ "callback-allowlist": "https://hooks.example.com/x" }, {})).to.throw(ConfigError, "--callback-allowlist");
    expect(() => loadConfig({ "callback-allowlist": "*" }, {})).to.throw(ConfigError, "--callback-allowlist");
    expect(() => loadConfig({ "callback-allow-http": "maybe" }, {})).to.throw(ConfigError, "--callback-allow-http");
  });

  it("starts no metrics server unless asked, and checks the metrics address", () => {
    expect(loadConfig({}, {}).metricsListen).to.equal(undefined);
    expect(loadConfig({}, { MCPC_METRICS_LISTEN: "" }).metricsListen).to.equal(undefined);
    expect(loadConfig({}, { MCPC_METRICS_LISTEN: "0.0.0.0:9464" }).metricsListen).to.equal("0.0.0.0:9464");
    expect(loadConfig({ "metrics-listen": "[::1]:0" }, { MCPC_METRICS_LISTEN: "0.0.0.0:9464" }).metricsListen).to.equal("[::1]:0");
    expect(() => loadConfig({ "metrics-listen": "9464" }, {})).to.throw(ConfigError, "--metrics-listen must look like host:port");
    expect(() => loadConfig({}, { MCPC_METRICS_LISTEN: "unix:/tmp/m.sock" })).to.throw(ConfigError, "MCPC_METRICS_LISTEN");
    expect(() => loadConfig({}, { MCPC_METRICS_LISTEN: "127.0.0.1:70000" })).to.throw(ConfigError, "MCPC_METRICS_LISTEN");
  });

  it("names the setting at fault and never echoes a database password", () => {
    expect(() => loadConfig({ listen: "nope" }, {})).to.throw(ConfigError, "--listen");
    expect(() => loadConfig({}, { MCPC_LOG_LEVEL: "loud" })).to.throw(ConfigError, "MCPC_LOG_LEVEL");
    expect(() => loadConfig({ "shutdown-grace": "-1s" }, {})).to.throw(ConfigError, "--shutdown-grace");
    expect(() => loadConfig({ "tls-cert": "package.json" }, {})).to.throw(ConfigError, "--tls-key");
    expect(() => loadConfig({ "tls-cert": "/nonexistent.pem", "tls-key": "/nonexistent.pem" }, {})).to.throw(ConfigError, "does not exist");
    try {
      loadConfig({}, { DATABASE_URL: "mysql://user:hunter2@host/db" });
      expect.fail("accepted a mysql URL");
    } catch (error) {
      expect((error as Error).message).to.contain("DATABASE_URL").and.not.contain("hunter2");
    }
  });

  it("exits 2 with a clear message on bad configuration, before touching any database", async () => {
    const proc = runCoordinator(["serve", "--listen", "localhost"], { DATABASE_URL: "postgres://127.0.0.1:1/never" });
    expect(await proc.exited(30_000)).to.equal(2);
    expect(proc.stderr()).to.contain("--listen must look like host:port");
    expect(proc.stderr()).to.contain("--help");
  });

  it("exits 2 on an unknown flag and prints usage on --help", async () => {
    const unknown = runCoordinator(["serve", "--lisen", "x"]);
    expect(await unknown.exited(30_000)).to.equal(2);
    expect(unknown.stderr()).to.contain("--lisen");
    const help = runCoordinator(["--help"]);
    expect(await help.exited(30_000)).to.equal(0);
    const usage = help.logs.map((r) => r.msg).join("\n");
    expect(usage).to.contain("DATABASE_URL").and.contain("--data-dir");
  });
});
