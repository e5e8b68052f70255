/**
 * The privacy policy end to end, against real coordinators and a real database: encrypted fields
 * are unreadable in the tables (payload bytes and summary columns) and readable through the API
 * by admins only, also after a key rotation; operators get them redacted; every read's audit row
 * says whether it decrypted; hashes are stable across restarts and replicas sharing the key and
 * differ under another key; dropped fields are gone from payload and summary.
 */
import { create, fromBinary, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Status } from "nice-grpc";
import { EventKind, InteractionEventSchema, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import type { Config } from "../../src/config/options.js";
import { startCoordinator, type Coordinator } from "../../src/coordinator.js";
import { SecretBytes, type EncryptionKey } from "../../src/interactions/privacy/keys.js";
import { parsePrivacyPolicy } from "../../src/interactions/privacy/policy.js";
import { clientFor } from "../support/clients.js";
import { testConfig } from "../support/coordinator.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { testLogger } from "../support/logger.js";
import { acksOf, openRawStream } from "./stream-client.js";
import { watch } from "./watch-support.js";

type Client = ReturnType<typeof clientFor<(typeof InteractionService)["method"]>>["client"];

const CARD = "4111111111111111";
const EMAIL = "alice.liddell@example.com";
const UPSTREAM = "bank-7 said no";

/** Coordinators started on a database of the test's choosing (several may share one). */
class Site {
  readonly #running: { coordinator: Coordinator; dataDir: string }[] = [];

  async start(database: TestDatabase, overrides: Partial<Config>): Promise<{ coordinator: Coordinator; address: string }> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "mcpc-privacy-"));
    const coordinator = await startCoordinator(testConfig({ listen: "127.0.0.1:0", databaseUrl: database.connectionString, dataDir, ...overrides }), {
      logger: testLogger(),
    });
    this.#running.push({ coordinator, dataDir });
    return { coordinator, address: `127.0.0.1:${coordinator.port}` };
  }

  async stop(coordinator: Coordinator): Promise<void> {
    const index = this.#running.findIndex((r) => r.coordinator === coordinator);
    const [running] = this.#running.splice(index, 1);
    await running!.coordinator.shutdown();
    await rm(running!.dataDir, { recursive: true, force: true });
  }

  async stopAll(): Promise<void> {
    for (const { coordinator } of [...this.#running]) await this.stop(coordinator);
  }
}

const encryptionKey = (id: string): EncryptionKey => ({ id, key: new SecretBytes(randomBytes(32)) });

function started(interactionId: string, userId: string, parameters?: JsonObject, attributes?: JsonObject): InteractionEvent {
  return create(InteractionEventSchema, {
    eventId: `${interactionId}-s`,
    interactionId,
    kind: EventKind.STARTED,
    occurredAt: timestampFromMs(Date.now()),
    detail: { case: "request", value: { userId, requestType: "pay", ...(parameters ? { parameters } : {}) } },
    ...(attributes ? { attributes } : {}),
  });
}

function failed(interactionId: string, message: string, data?: JsonObject): InteractionEvent {
  return create(InteractionEventSchema, {
    eventId: `${interactionId}-f`,
    interactionId,
    kind: EventKind.FAILED,
    occurredAt: timestampFromMs(Date.now() + 1),
    detail: { case: "error", value: { errorCode: "DECLINED", message, ...(data ? { data } : {}) } },
  });
}

/** The pay-* interactions' events: a user, a card, an email, an upstream message, a debug flag. */
const payEvents = (id: string) => [
  started(id, EMAIL, { card: CARD, query: "refund", debug: "verbose" }, { email: EMAIL, trace: "t-1" }),
  failed(id, `card ${CARD} declined`, { upstream: UPSTREAM }),
];

async function report(client: Client, events: InteractionEvent[]): Promise<void> {
  const { acks } = await client.reportInteractions({ events });
  expect(acks.map((a) => AckStatus[a.status])).to.deep.equal(events.map(() => "STORED"));
}

/** Sends events on a StreamInteractions stream (whose received bytes ingest would store as they are). */
async function stream(address: string, token: string, events: InteractionEvent[]): Promise<void> {
  const raw = openRawStream(address, token);
  try {
    raw.send({ frame: { case: "hello", value: {} } });
    events.forEach((e, i) => raw.send({ frame: { case: "event", value: { ...e, seq: BigInt(i + 1) } } }));
    raw.close();
    expect((await raw.ended).code).to.equal(Status.OK);
    expect(acksOf(raw).map((a) => AckStatus[a.status])).to.deep.equal(events.map(() => "STORED"));
  } finally {
    raw.dispose();
  }
}

describe("privacy at ingest and on reads", function () {
  this.timeout(120_000);
  const site = new Site();
  const databases: TestDatabase[] = [];
  const channels: { close(): void }[] = [];

  async function database(): Promise<TestDatabase> {
    const db = await createTestDatabase();
    databases.push(db);
    return db;
  }

  async function clients(db: TestDatabase, address: string) {
    const make = async (key: Parameters<typeof createKey>[1]) => {
      const { token } = await createKey(db.pool, key);
      const { client, channel } = clientFor(InteractionService, address, token);
      channels.push(channel);
      return { client, token };
    };
    return {
      mcp: await make({ role: "mcp", mcpId: "pay-mcp" }),
      operator: await make({ role: "operator", principal: "olga" }),
      admin: await make({ role: "admin", principal: "root" }),
    };
  }

  const clientsAt = (address: string, tokens: Record<"mcp" | "operator" | "admin", string>) => {
    const pick = (token: string) => {
      const { client, channel } = clientFor(InteractionService, address, token);
      channels.push(channel);
      return client;
    };
    return { mcp: pick(tokens.mcp), operator: pick(tokens.operator), admin: pick(tokens.admin) };
  };

  afterEach(async () => {
    for (const channel of channels.splice(0)) channel.close();
    await site.stopAll();
  });
  after(async () => {
    for (const db of databases) await db.drop();
  });

  it("encrypted fields are unreadable in the tables, readable by admins after a key rotation, redacted for operators", async () => {
    const db = await database();
    const privacy = parsePrivacyPolicy(
      "request.user_id=encrypt,request.parameters.card=encrypt,request.parameters.debug=drop,error.message=encrypt,error.data=encrypt,attributes.email=hash",
    );
    const k1 = encryptionKey("k1");
    const k2 = encryptionKey("k2");

    // Written under k1: pay-1 by ReportInteractions, pay-2 on a stream.
    const first = await site.start(db, { privacy, encryptionKeys: [k1] });
    const made = await clients(db, first.address);
    const tokens = { mcp: made.mcp.token, operator: made.operator.token, admin: made.admin.token };
    await report(made.mcp.client, payEvents("pay-1"));
    await stream(first.address, tokens.mcp, payEvents("pay-2"));
    await site.stop(first.coordinator);

    // Restarted with k2 current and k1 still listed: pay-3 is written under k2.
    const second = await site.start(db, { privacy, encryptionKeys: [k2, k1] });
    const api = clientsAt(second.address, tokens);
    await report(api.mcp, [...payEvents("pay-3"), started("plain-1", "")]);

    // The tables: no plaintext anywhere, markers naming the key each row was written under.
    const { rows: events } = await db.pool.query<{ interaction_id: string; payload: Buffer }>(
      "SELECT interaction_id, payload FROM interaction_events WHERE interaction_id LIKE 'pay-%' ORDER BY interaction_id, kind",
    );
    expect(events).to.have.length(6);
    for (const { interaction_id: id, payload } of events) {
      for (const secret of [CARD, EMAIL, UPSTREAM, "verbose"]) expect(payload.includes(secret), `${secret} in ${id}'s payload bytes`).to.equal(false);
      const stored = fromBinary(InteractionEventSchema, payload);
      const keyId = id === "pay-3" ? "k2" : "k1";
      if (stored.detail.case === "request") {
        expect(stored.detail.value.userId).to.match(new RegExp(`^enc:${keyId}:`));
        expect(stored.detail.value.parameters).to.have.keys("card", "query");
        expect(stored.detail.value.parameters!.card).to.match(new RegExp(`^enc:${keyId}:`));
        expect(stored.attributes!.email).to.match(/^hmac:/);
      } else if (stored.detail.case === "error") {
        expect(stored.detail.value.message).to.match(new RegExp(`^enc:${keyId}:`));
        expect(stored.detail.value.data!.upstream).to.match(new RegExp(`^enc:${keyId}:`));
      }
    }
    const { rows: summaries } = await db.pool.query<{ interaction_id: string; user_id: string; error_message: string; whole: string }>(
      "SELECT interaction_id, user_id, error_message, row_to_json(i)::text AS whole FROM interactions i WHERE interaction_id LIKE 'pay-%' ORDER BY interaction_id",
    );
    expect(summaries.map((s) => [s.interaction_id, s.user_id.split(":").slice(0, 2).join(":"), s.error_message.split(":").slice(0, 2).join(":")])).to.deep.equal([
      ["pay-1", "enc:k1", "enc:k1"],
      ["pay-2", "enc:k1", "enc:k1"],
      ["pay-3", "enc:k2", "enc:k2"],
    ]);
    for (const s of summaries) expect(s.whole).to.not.contain(EMAIL).and.not.contain(CARD);

    // Admins read everything in clear, old key and new.
    for (const id of ["pay-1", "pay-2", "pay-3"]) {
      const { interaction, events: read } = await api.admin.getInteraction({ interactionId: id });
      expect(interaction).to.deep.include({ userId: EMAIL, errorMessage: `card ${CARD} declined` });
      const [start, failure] = read.map((e) => e.event!);
      expect(start!.detail.case === "request" && start!.detail.value).to.deep.include({ userId: EMAIL, parameters: { card: CARD, query: "refund" } });
      expect(start!.attributes!.email, "hashed, not encrypted: returned as stored").to.match(/^hmac:/);
      expect(failure!.detail.case === "error" && failure!.detail.value).to.deep.include({ message: `card ${CARD} declined`, data: { upstream: UPSTREAM } });
    }
    const listed = await api.admin.listInteractions({ mcpId: "pay-mcp", status: 4 });
    expect(listed.interactions.map((i) => [i.interactionId, i.userId])).to.deep.equal([
      ["pay-3", EMAIL],
      ["pay-2", EMAIL],
      ["pay-1", EMAIL],
    ]);
    await api.admin.getInteraction({ interactionId: "plain-1" });

    // Operators get `enc:<key id>` in place of each encrypted value.
    const forOperator = await api.operator.getInteraction({ interactionId: "pay-1" });
    expect(forOperator.interaction).to.deep.include({ userId: "enc:k1", errorMessage: "enc:k1" });
    const [start, failure] = forOperator.events.map((e) => e.event!);
    expect(start!.detail.case === "request" && start!.detail.value).to.deep.include({ userId: "enc:k1", parameters: { card: "enc:k1", query: "refund" } });
    expect(failure!.detail.case === "error" && failure!.detail.value.data).to.deep.equal({ upstream: "enc:k1" });
    expect((await api.operator.getInteraction({ interactionId: "pay-3" })).interaction!.userId).to.equal("enc:k2");
    expect((await api.operator.listInteractions({ mcpId: "pay-mcp", status: 4 })).interactions.map((i) => i.userId)).to.deep.equal(["enc:k2", "enc:k1", "enc:k1"]);

    // The audit says which reads returned decrypted values (admins reading encrypted data only).
    const { entries } = await api.admin.listAccessAudit({ pageSize: 100 });
    expect(entries.reverse().map((e) => [e.principal, e.method.split("/").at(-1), e.request?.interactionId ?? "", e.decrypted])).to.deep.equal([
      ["root", "GetInteraction", "pay-1", true],
      ["root", "GetInteraction", "pay-2", true],
      ["root", "GetInteraction", "pay-3", true],
      ["root", "ListInteractions", "", true],
      ["root", "GetInteraction", "plain-1", false],
      ["olga", "GetInteraction", "pay-1", false],
      ["olga", "GetInteraction", "pay-3", false],
      ["olga", "ListInteractions", "", false],
    ]);
    await site.stop(second.coordinator);

    // k1 no longer listed: its rows come back as stored (not redacted, not an error) to admins.
    const third = await site.start(db, { privacy, encryptionKeys: [k2] });
    const later = clientsAt(third.address, tokens);
    const old = await later.admin.getInteraction({ interactionId: "pay-1" });
    expect(old.interaction!.userId).to.match(/^enc:k1:/);
    expect((await later.admin.getInteraction({ interactionId: "pay-3" })).interaction!.userId).to.equal(EMAIL);
  });

  it("the live tail reveals like the other reads: decrypted for admins, enc:<key id> for operators", async () => {
    const db = await database();
    const privacy = parsePrivacyPolicy("request.user_id=encrypt,error.message=encrypt");
    const { address } = await site.start(db, { privacy, encryptionKeys: [encryptionKey("k1")] });
    const api = await clients(db, address);
    const admin = watch(api.admin.client, { mcpId: "pay-mcp" });
    const operator = watch(api.operator.client, { mcpId: "pay-mcp" });
    try {
      await Promise.all([admin.live, operator.live]);
      await report(api.mcp.client, payEvents("pay-tail"));
      const detail = (events: { event?: InteractionEvent }[]) =>
        events.map(({ event }) => (event!.detail.case === "request" ? event!.detail.value.userId : event!.detail.case === "error" ? event!.detail.value.message : ""));
      expect(detail(await admin.until((e) => e.event!.kind === EventKind.FAILED, "admin sees the failure"))).to.deep.equal([EMAIL, `card ${CARD} declined`]);
      expect(detail(await operator.until((e) => e.event!.kind === EventKind.FAILED, "operator sees the failure"))).to.deep.equal(["enc:k1", "enc:k1"]);
    } finally {
      await Promise.all([admin.cancel(), operator.cancel()]);
    }
    const { entries } = await api.admin.client.listAccessAudit({ method: "/coordinator.v1.InteractionService/WatchInteractions" });
    expect(entries.map((e) => [e.principal, e.decrypted]).sort()).to.deep.equal([["olga", false], ["root", true]]);
  });

  it("a refused read is audited too (decrypted: false)", async () => {
    const db = await database();
    const { address } = await site.start(db, { encryptionKeys: [encryptionKey("k1")] });
    const { admin } = await clients(db, address);
    const error = await admin.client.getInteraction({ interactionId: "" }).catch((e: unknown) => e);
    expect((error as { code: Status }).code).to.equal(Status.INVALID_ARGUMENT);
    const { entries } = await admin.client.listAccessAudit({});
    expect(entries.map((e) => [e.method.split("/").at(-1), e.decrypted])).to.deep.equal([["GetInteraction", false]]);
  });

  it("hashes are stable across restarts and replicas sharing the key, and differ under another key", async () => {
    const shared = await database();
    // Two replicas starting together without MCPC_HASH_KEY: one key is made, and both use it.
    const [a, b] = await Promise.all([site.start(shared, {}), site.start(shared, {})]);
    const tokens = await clients(shared, a.address);
    const atB = clientsAt(b.address, { mcp: tokens.mcp.token, operator: tokens.operator.token, admin: tokens.admin.token });
    await report(tokens.mcp.client, [started("h-1", EMAIL)]);
    await report(atB.mcp, [started("h-2", EMAIL)]);
    await site.stop(a.coordinator);
    await site.stop(b.coordinator);
    const again = await site.start(shared, {});
    await report(clientsAt(again.address, { mcp: tokens.mcp.token, operator: "", admin: "" }).mcp, [started("h-3", EMAIL), started("h-other", "bob@example.com")]);
    await site.stop(again.coordinator);

    const hashes = async (db: TestDatabase) => {
      const { rows } = await db.pool.query<{ interaction_id: string; user_id: string; payload: Buffer }>(
        `SELECT i.interaction_id, i.user_id, e.payload FROM interactions i JOIN interaction_events e USING (mcp_id, interaction_id) ORDER BY 1`,
      );
      for (const row of rows) {
        const stored = fromBinary(InteractionEventSchema, row.payload);
        expect(stored.detail.case === "request" && stored.detail.value.userId, "payload and summary agree").to.equal(row.user_id);
        expect(row.user_id).to.match(/^hmac:[A-Za-z0-9_-]{22}$/);
      }
      return Object.fromEntries(rows.map((r) => [r.interaction_id, r.user_id]));
    };
    const stored = await hashes(shared);
    expect(stored["h-2"], "the other replica").to.equal(stored["h-1"]);
    expect(stored["h-3"], "after a restart").to.equal(stored["h-1"]);
    expect(stored["h-other"]).to.not.equal(stored["h-1"]);
    expect((await shared.pool.query("SELECT count(*)::int AS n FROM deployment_secrets WHERE name = 'privacy-hash-key'")).rows[0].n).to.equal(1);

    // MCPC_HASH_KEY: two deployments with the same key agree; the stored key gave another hash.
    const hashKey = new SecretBytes(randomBytes(32));
    const hashesUnder = async () => {
      const db = await database();
      const { address } = await site.start(db, { hashKey });
      const { mcp } = await clients(db, address);
      await report(mcp.client, [started("h-env", EMAIL)]);
      return (await hashes(db))["h-env"];
    };
    const [one, two] = [await hashesUnder(), await hashesUnder()];
    expect(two).to.equal(one);
    expect(one).to.not.equal(stored["h-1"]);
  });

  it("drop removes the field from the payload and from the summary", async () => {
    const db = await database();
    const privacy = parsePrivacyPolicy("request.user_id=drop,request.parameters.ssn=drop,error.message=drop,attributes=drop");
    const { address } = await site.start(db, { privacy });
    const { mcp, admin } = await clients(db, address);
    await report(mcp.client, [started("d-1", EMAIL, { ssn: "078-05-1120", query: "q" }, { email: EMAIL }), failed("d-1", "about 078-05-1120")]);
    await stream(address, mcp.token, [started("d-2", EMAIL, { ssn: "078-05-1120" })]);
    const { rows } = await db.pool.query<{ payload: Buffer }>("SELECT payload FROM interaction_events");
    for (const { payload } of rows) {
      expect(payload.includes("078-05-1120")).to.equal(false);
      expect(payload.includes(EMAIL)).to.equal(false);
      const stored = fromBinary(InteractionEventSchema, payload);
      expect(stored.attributes).to.equal(undefined);
      if (stored.detail.case === "request") {
        expect(stored.detail.value.userId).to.equal("");
        expect(stored.detail.value.parameters).to.not.have.property("ssn");
      }
      if (stored.detail.case === "error") expect(stored.detail.value).to.deep.include({ message: "", errorCode: "DECLINED" });
    }
    const { rows: summaries } = await db.pool.query("SELECT interaction_id, user_id, error_message, error_code FROM interactions ORDER BY 1");
    expect(summaries).to.deep.equal([
      { interaction_id: "d-1", user_id: "", error_message: "", error_code: "DECLINED" },
      { interaction_id: "d-2", user_id: "", error_message: "", error_code: "" },
    ]);
    const read = await admin.client.getInteraction({ interactionId: "d-1" });
    expect(read.events[0]!.event!.detail.case === "request" && read.events[0]!.event!.detail.value.parameters).to.deep.equal({ query: "q" });
  });
});
