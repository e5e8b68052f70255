/**
 * The privacy policy in memory: what protect() does to each kind of field (drop, hash, encrypt,
 * whole Structs and single keys), the stored forms, and what revealFields()/revealSummary() give
 * a reader who may decrypt and one who may not. The database and gRPC side is in privacy.test.ts.
 */
import { clone, create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { pino, type Logger } from "pino";
import { EventKind, InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionSchema } from "../../gen/coordinator/v1/interaction_pb.js";
import { IngestError } from "../../src/interactions/stream-end.js";
import { SecretBytes, type EncryptionKey } from "../../src/interactions/privacy/keys.js";
import { parsePrivacyPolicy } from "../../src/interactions/privacy/policy.js";
import { Privacy } from "../../src/interactions/privacy/privacy.js";
import { CHANGED_ATTRIBUTES, CHANGED_DETAIL_STRUCT, CHANGED_DETAIL_TEXT } from "../../src/interactions/privacy/splice.js";
import { ConfigError } from "../../src/config/errors.js";
import { testLogger } from "../support/logger.js";

const key = (id: string): EncryptionKey => ({ id, key: new SecretBytes(randomBytes(32)) });
const hashKey = new SecretBytes(randomBytes(32));

function privacy(policy: string, keys: EncryptionKey[] = [], options: { hash?: SecretBytes | undefined; logger?: Logger } = {}): Privacy {
  const hash = "hash" in options ? options.hash : hashKey;
  return new Privacy({ rules: parsePrivacyPolicy(policy), encryptionKeys: keys, hashKey: hash }, options.logger ?? testLogger());
}

function started(userId: string, parameters?: JsonObject, attributes?: JsonObject): InteractionEvent {
  return create(InteractionEventSchema, {
    eventId: "e1",
    interactionId: "i1",
    kind: EventKind.STARTED,
    occurredAt: timestampFromMs(Date.now()),
    detail: { case: "request", value: { userId, requestType: "search", ...(parameters ? { parameters } : {}) } },
    ...(attributes ? { attributes } : {}),
  });
}

function failed(message: string, data?: JsonObject): InteractionEvent {
  return create(InteractionEventSchema, {
    eventId: "e2",
    interactionId: "i1",
    kind: EventKind.FAILED,
    occurredAt: timestampFromMs(Date.now()),
    detail: { case: "error", value: { errorCode: "E1", message, ...(data ? { data } : {}) } },
  });
}

const request = (e: InteractionEvent) => (e.detail.case === "request" ? e.detail.value : expect.fail("not a request"));
const error = (e: InteractionEvent) => (e.detail.case === "error" ? e.detail.value : expect.fail("not an error"));

describe("privacy policy", () => {
  it("hashes to hmac:<22 base64url characters>, the same value the same way in every field, and per key", () => {
    const policy = privacy("request.user_id=hash,attributes.user=hash,request.parameters.n=hash");
    const e = started("alice", { n: 42 }, { user: "alice" });
    expect(policy.protect(e), "detail and attributes changed").to.equal(CHANGED_DETAIL_TEXT | CHANGED_DETAIL_STRUCT | CHANGED_ATTRIBUTES);
    expect(request(e).userId).to.match(/^hmac:[A-Za-z0-9_-]{22}$/);
    expect(e.attributes!.user, "same value, same hash, any field").to.equal(request(e).userId);
    expect(request(e).parameters!.n, "a number hashes as its JSON").to.match(/^hmac:/);

    const again = started("alice");
    privacy("request.user_id=hash").protect(again);
    expect(request(again).userId, "same key: stable").to.equal(request(e).userId);
    const other = started("alice");
    privacy("request.user_id=hash", [], { hash: new SecretBytes(randomBytes(32)) }).protect(other);
    expect(request(other).userId, "another key: another hash").to.not.equal(request(e).userId);
    const bob = started("bob");
    privacy("request.user_id=hash").protect(bob);
    expect(request(bob).userId).to.not.equal(request(e).userId);
  });

  it("drops a text field, one Struct key, or a whole Struct", () => {
    const e = started("alice", { ssn: "123-45-6789", query: "weather" }, { trace: "t1" });
    expect(privacy("request.user_id=drop,request.parameters.ssn=drop,attributes=drop").protect(e)).to.equal(CHANGED_DETAIL_TEXT | CHANGED_DETAIL_STRUCT | CHANGED_ATTRIBUTES);
    expect(request(e).userId).to.equal("");
    expect(request(e).parameters).to.deep.equal({ query: "weather" });
    expect(e.attributes).to.equal(undefined);
    expect(request(e).requestType, "other fields untouched").to.equal("search");
  });

  it("leaves an event without the named fields unchanged (and says so)", () => {
    const policy = privacy("request.user_id=hash,request.parameters.ssn=encrypt,error.data=drop", [key("k1")]);
    const e = started("", { query: "x" });
    expect(policy.protect(e)).to.equal(0);
    expect(policy.protect(failed("boom"))).to.equal(0);
    expect(privacy("none").protect(started("alice"))).to.equal(0);
  });

  it("encrypts to enc:<key id>:<base64url>, a Struct value as its JSON, and reveals it to admins only", () => {
    const policy = privacy("error.message=encrypt,error.data=encrypt,request.parameters.ssn=encrypt", [key("k1")]);
    const e = failed("card 4111 declined", { card: "4111", attempts: 3, nested: { a: [1, "x"] } });
    expect(policy.protect(e)).to.equal(CHANGED_DETAIL_TEXT | CHANGED_DETAIL_STRUCT);
    const stored = error(e);
    expect(stored.message).to.match(/^enc:k1:[A-Za-z0-9_-]+$/);
    for (const value of Object.values(stored.data!)) expect(value).to.match(/^enc:k1:/);
    expect(JSON.stringify(stored)).to.not.contain("4111");

    const forOperator = clone(InteractionEventSchema, e);
    expect(policy.revealFields(forOperator, false)).to.equal(0);
    expect(error(forOperator).message, "redacted: key id only").to.equal("enc:k1");
    expect(error(forOperator).data).to.deep.equal({ card: "enc:k1", attempts: "enc:k1", nested: "enc:k1" });

    expect(policy.revealFields(e, true)).to.equal(4);
    expect(error(e).message).to.equal("card 4111 declined");
    expect(error(e).data).to.deep.equal({ card: "4111", attempts: 3, nested: { a: [1, "x"] } });
  });

  it("applies a whole-Struct rule to each top-level key, and a key's own rule before it", () => {
    const policy = privacy("request.parameters=encrypt,request.parameters.lang=hash,request.parameters.debug=drop", [key("k1")]);
    const e = started("", { lang: "en", debug: true, text: "secret", empty: null });
    policy.protect(e);
    const parameters = request(e).parameters!;
    expect(Object.keys(parameters).sort()).to.deep.equal(["empty", "lang", "text"]);
    expect(parameters.lang).to.match(/^hmac:/);
    expect(parameters.text).to.match(/^enc:k1:/);
    expect(parameters.empty, "null has nothing to hide").to.equal(null);
    policy.revealFields(e, true);
    expect(request(e).parameters).to.deep.include({ text: "secret", empty: null });
  });

  it("binds a ciphertext to its field: moved to another field it does not decrypt, and is logged once", () => {
    const lines: { msg: string; keyId?: string }[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const policy = privacy("request.user_id=encrypt,error.message=encrypt", [key("k1")], { logger });
    const e = started("alice");
    policy.protect(e);
    const moved = failed(request(e).userId);
    expect(policy.revealFields(moved, true)).to.equal(0);
    expect(error(moved).message, "kept as stored").to.equal(request(e).userId);
    policy.revealFields(failed(request(e).userId), true);
    expect(lines.map((l) => l.msg)).to.have.length(1);
    expect(lines[0]!.msg).to.contain("failed authentication");
  });

  it("decrypts under every listed key (rotation), keeps values of an unlisted key as stored, logged once per key id", () => {
    const k1 = key("k1");
    const k2 = key("k2");
    const before = started("alice");
    privacy("request.user_id=encrypt", [k1]).protect(before);
    const after = started("bob");
    const rotated = privacy("request.user_id=encrypt", [k2, k1]);
    rotated.protect(after);
    expect(request(after).userId).to.match(/^enc:k2:/);
    const [old, fresh] = [clone(InteractionEventSchema, before), clone(InteractionEventSchema, after)];
    expect(rotated.revealFields(old, true) + rotated.revealFields(fresh, true)).to.equal(2);
    expect([request(old).userId, request(fresh).userId]).to.deep.equal(["alice", "bob"]);

    const lines: { msg: string; keyId?: string }[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const withoutK1 = privacy("request.user_id=encrypt", [k2], { logger });
    const marker = request(before).userId;
    for (let i = 0; i < 3; i++) {
      const copy = clone(InteractionEventSchema, before);
      expect(withoutK1.revealFields(copy, true)).to.equal(0);
      expect(request(copy).userId).to.equal(marker);
    }
    expect(lines.map((l) => [l.keyId, l.msg.includes("not in MCPC_ENCRYPTION_KEYS")])).to.deep.equal([["k1", true]]);
  });

  it("reveals summaries too: user_id, error_message from either detail, and last_progress", () => {
    const policy = privacy("request.user_id=encrypt,error.message=encrypt,result.error_message=encrypt,progress.message=encrypt,progress.data=encrypt", [key("k1")]);
    const e = started("alice");
    const f = failed("from error");
    const at = timestampFromMs(Date.now());
    const r = create(InteractionEventSchema, { eventId: "r", kind: EventKind.COMPLETED, occurredAt: at, detail: { case: "result", value: { success: false, errorMessage: "from result" } } });
    const p = create(InteractionEventSchema, { eventId: "p", kind: EventKind.PROGRESS, occurredAt: at, detail: { case: "progress", value: { message: "half", data: { rows: 5 } } } });
    for (const x of [e, f, r, p]) policy.protect(x);
    const summary = (errorMessage: string) =>
      create(InteractionSchema, {
        userId: request(e).userId,
        errorMessage,
        lastProgress: p.detail.case === "progress" ? p.detail.value : undefined,
      });
    const fromError = summary(error(f).message);
    expect(policy.revealSummary(fromError, true)).to.equal(4);
    expect(fromError).to.deep.include({ userId: "alice", errorMessage: "from error" });
    expect(fromError.lastProgress).to.deep.include({ message: "half", data: { rows: 5 } });
    const fromResult = summary(r.detail.case === "result" ? r.detail.value.errorMessage : "");
    policy.revealSummary(fromResult, true);
    expect(fromResult.errorMessage).to.equal("from result");
    const forOperator = summary(error(f).message);
    expect(policy.revealSummary(forOperator, false)).to.equal(0);
    expect(forOperator).to.deep.include({ userId: "enc:k1", errorMessage: "enc:k1" });
  });

  it("refuses to encrypt without keys, and refuses hashing (UNAVAILABLE) until the stored hash key is loaded", () => {
    expect(() => privacy("error.data=encrypt")).to.throw(ConfigError, "MCPC_ENCRYPTION_KEYS");
    const waiting = privacy("request.user_id=hash", [], { hash: undefined });
    expect(() => waiting.protect(started("alice"))).to.throw(IngestError, "hash key").with.property("code", "unavailable");
    expect(waiting.protect(started("")), "nothing to hash: no key needed").to.equal(0);
  });

  it("never shows key material in logs, JSON or inspect", () => {
    const secret = new SecretBytes(Buffer.from("0123456789abcdef0123456789abcdef"));
    const text = [JSON.stringify({ secret }), inspect({ secret }), String(secret)].join(" ");
    expect(text).to.not.contain("0123456789");
    expect(text).to.contain("[secret]");
  });
});
