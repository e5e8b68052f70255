/**
 * WatchInteractions over gRPC on one replica: each filter gets exactly the events it wants, from
 * the moment its response headers arrive (nothing earlier is replayed); a resent event is not
 * told twice; roles, bad filters and the access audit; GetStats counts the open watchers; a
 * watcher that does not read is dropped with RESOURCE_EXHAUSTED while ingest keeps acking and the
 * other watchers go on; buf curl can watch; a dropped tail connection and shutdown end watchers
 * with UNAVAILABLE; writers announce events only while someone watches; and the headers are sent
 * only once an event sent right after them cannot be missed.
 */
import { expect } from "chai";
import { ClientError, Status } from "nice-grpc";
import pg from "pg";
import { EventKind, type InteractionEvent } from "../../gen/coordinator/v1/interaction_event_pb.js";
import type { StoredEvent } from "../../gen/coordinator/v1/interaction_pb.js";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import { AckStatus } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { createKey } from "../../src/auth/keys.js";
import type { StartOptions } from "../../src/coordinator.js";
import { EVENTS_CHANNEL, parseAnnouncement, type Announcement } from "../../src/interactions/watch/channel.js";
import { startBufCurl } from "../support/buf-curl.js";
import { clientFor } from "../support/clients.js";
import { startTestCoordinator, type TestCoordinator } from "../support/coordinator.js";
import { waitFor } from "../support/database.js";
import { event } from "./events.js";
import { watch, type InteractionClient, type Watch } from "./watch-support.js";

/** Short presence timing, so a first watcher is live within a few hundred ms. */
const FAST: Omit<StartOptions, "logger"> = { watch: { presence: { refreshMs: 50, validMs: 200 }, queueLimit: 200 } };

type Name = "alpha" | "beta" | "operator" | "admin" | "workflow";

/** A coordinator with a client per kind of key. */
async function serverWithClients(options: Omit<StartOptions, "logger">) {
  const server = await startTestCoordinator({}, options);
  const pool = server.coordinator.pool;
  const keys = {
    alpha: await createKey(pool, { role: "mcp", mcpId: "alpha" }),
    beta: await createKey(pool, { role: "mcp", mcpId: "beta" }),
    operator: await createKey(pool, { role: "operator", principal: "olga" }),
    admin: await createKey(pool, { role: "admin", principal: "root" }),
    workflow: await createKey(pool, { role: "workflow", principal: "flow" }),
  };
  const clients = {} as Record<Name, InteractionClient>;
  const channels: { close(): void }[] = [];
  for (const name of Object.keys(keys) as Name[]) {
    const { client, channel } = clientFor(InteractionService, server.address, keys[name].token);
    clients[name] = client;
    channels.push(channel);
  }
  return {
    server,
    clients,
    async stop() {
      for (const channel of channels) channel.close();
      await server.stop();
    },
  };
}

/** What a test compares: who, which interaction, which kind. */
const key = (e: StoredEvent) => `${e.mcpId}/${e.event!.interactionId}/${EventKind[e.event!.kind]}`;
const keyOf = (mcpId: string, e: InteractionEvent) => `${mcpId}/${e.interactionId}/${EventKind[e.kind]}`;

describe("WatchInteractions", function () {
  this.timeout(60_000);
  let env: Awaited<ReturnType<typeof serverWithClients>>;
  let clients: Record<Name, InteractionClient>;
  const watches: Watch[] = [];

  before(async () => {
    env = await serverWithClients(FAST);
    clients = env.clients;
  });
  afterEach(async () => {
    for (const w of watches.splice(0)) await w.cancel();
  });
  after(async () => {
    await env.stop();
  });

  function watching(client: InteractionClient, request: Parameters<typeof watch>[1] = {}): Watch {
    const w = watch(client, request);
    watches.push(w);
    return w;
  }

  async function report(mcp: "alpha" | "beta", events: InteractionEvent[], expected: AckStatus[] = events.map(() => AckStatus.STORED)) {
    const { acks } = await clients[mcp].reportInteractions({ events });
    expect(acks.map((a) => AckStatus[a.status])).to.deep.equal(expected.map((s) => AckStatus[s]));
  }

  async function openWatchers(): Promise<number> {
    return (await clients.operator.getStats({})).ingest!.openWatchers;
  }

  it("streams each watcher the events its filter wants, from its headers on, in order", async () => {
    const t = Date.now();
    const before = event(EventKind.STARTED, "w-x", t - 10_000);
    await report("alpha", [before]);

    const all = watching(clients.operator);
    const ofBeta = watching(clients.operator, { mcpId: "beta" });
    const ofX = watching(clients.admin, { interactionId: "w-x" });
    const endings = watching(clients.operator, { kinds: [EventKind.COMPLETED, EventKind.FAILED] });
    const betaXEndings = watching(clients.operator, { mcpId: "beta", interactionId: "w-x", kinds: [EventKind.FAILED] });
    await Promise.all(watches.map((w) => w.live));

    const sent: [string, InteractionEvent][] = [];
    const send = async (mcp: "alpha" | "beta", events: InteractionEvent[]) => {
      await report(mcp, events);
      sent.push(...events.map((e): [string, InteractionEvent] => [mcp, e]));
    };
    await send("alpha", [event(EventKind.STARTED, "w-x", t), event(EventKind.PROGRESS, "w-x", t + 1)]);
    await send("beta", [event(EventKind.STARTED, "w-x", t + 2), event(EventKind.STARTED, "w-y", t + 3)]);
    await send("alpha", [event(EventKind.COMPLETED, "w-x", t + 4)]);
    await send("beta", [event(EventKind.PROGRESS, "w-y", t + 5), event(EventKind.FAILED, "w-y", t + 6)]);
    // Matches every filter: once it arrives, everything sent before it has.
    const last = event(EventKind.FAILED, "w-x", t + 7);
    await send("beta", [last]);

    const expected = (mcpId: string, interactionId: string, kinds: EventKind[]) =>
      sent
        .filter(([m, e]) => (!mcpId || m === mcpId) && (!interactionId || e.interactionId === interactionId) && (kinds.length === 0 || kinds.includes(e.kind)))
        .map(([m, e]) => keyOf(m, e));
    const got = async (w: Watch) => (await w.until((e) => e.event!.eventId === last.eventId, "the last event")).map(key);
    expect(await got(all)).to.deep.equal(expected("", "", []));
    expect(await got(ofBeta)).to.deep.equal(expected("beta", "", []));
    expect(await got(ofX)).to.deep.equal(expected("", "w-x", []));
    expect(await got(endings)).to.deep.equal(expected("", "", [EventKind.COMPLETED, EventKind.FAILED]));
    expect(await got(betaXEndings)).to.deep.equal(["beta/w-x/FAILED"]);
    expect(all.events.some((e) => e.event!.eventId === before.eventId), "no history").to.equal(false);

    // Each event as stored: the whole event, its MCP, and when it was stored.
    const stored = all.events.find((e) => e.event!.eventId === last.eventId)!;
    expect(stored.mcpId).to.equal("beta");
    expect(stored.event!.detail).to.deep.equal(last.detail);
    expect(stored.receivedAt && stored.storedAt).to.not.equal(undefined);
    const { events: read } = await clients.operator.getInteraction({ interactionId: "w-x", mcpId: "beta" });
    expect(read.find((e) => e.event!.eventId === last.eventId)).to.deep.equal(stored);
  });

  it("does not tell a resent event again", async () => {
    const w = watching(clients.operator, { mcpId: "alpha" });
    await w.live;
    const once = event(EventKind.STARTED, "dup", Date.now());
    await report("alpha", [once]);
    const last = event(EventKind.COMPLETED, "dup", Date.now() + 1);
    await report("alpha", [once, last], [AckStatus.DUPLICATE, AckStatus.STORED]);
    const seen = await w.until((e) => e.event!.eventId === last.eventId, "the event after the resend");
    expect(seen.map((e) => e.event!.eventId)).to.deep.equal([once.eventId, last.eventId]);
  });

  it("is for operators and admins, names a bad filter field, and is recorded in the access audit", async () => {
    for (const name of ["alpha", "workflow"] as const) {
      const refused = await watching(clients[name]).ended;
      expect(refused.code, name).to.equal("PERMISSION_DENIED");
    }
    expect(await watching(clients.operator, { kinds: [EventKind.STARTED, 9 as EventKind] }).ended).to.deep.equal({
      code: "INVALID_ARGUMENT",
      details: "kinds[1]: 9 is not an event kind (EVENT_KIND_STARTED, _PROGRESS, _COMPLETED or _FAILED)",
    });
    expect((await watching(clients.operator, { mcpId: "no spaces" }).ended).details).to.match(/^mcp_id: /);

    const admin = watching(clients.admin, { mcpId: "beta", kinds: [EventKind.FAILED] });
    await admin.live;
    const { entries } = await clients.admin.listAccessAudit({ method: "/coordinator.v1.InteractionService/WatchInteractions", pageSize: 500 });
    expect(entries[0]).to.deep.include({ principal: "root", role: "admin" });
    expect(entries[0]!.request).to.deep.equal({ mcpId: "beta", kinds: ["EVENT_KIND_FAILED"] });
    // Refused by its filter, the watch is still recorded (as every read is, before it is served).
    expect(entries.some((e) => e.principal === "olga" && (e.request as { mcpId?: string }).mcpId === "no spaces")).to.equal(true);
  });

  it("GetStats counts this replica's open watchers", async () => {
    // The previous tests' watchers are gone once the server has seen their cancellations.
    await waitFor(async () => (await openWatchers()) === 0, { message: "no watcher yet" });
    const [a, b] = [watching(clients.operator), watching(clients.admin, { kinds: [EventKind.STARTED] })];
    await Promise.all([a.live, b.live]);
    expect(await openWatchers()).to.equal(2);
    await a.cancel();
    await waitFor(async () => (await openWatchers()) === 1, { message: "one watcher left" });
    await b.cancel();
    await waitFor(async () => (await openWatchers()) === 0, { message: "no watcher left" });
  });

  it("drops a watcher that does not read (RESOURCE_EXHAUSTED) while ingest keeps acking and the others go on", async () => {
    // Another watcher of the same MCP, wanting only the completions: it keeps up.
    const other = watching(clients.operator, { mcpId: "beta", kinds: [EventKind.COMPLETED] });
    // Started, then never read: its client's buffers fill, then its queue on the server.
    let slowLive: () => void = () => undefined;
    const slowHeaders = new Promise<void>((resolve) => (slowLive = resolve));
    const slowCall = clients.operator.watchInteractions({ mcpId: "beta" }, { onHeader: () => slowLive() })[Symbol.asyncIterator]();
    const firstSlow = slowCall.next();
    await Promise.all([other.live, slowHeaders]);
    expect(await openWatchers()).to.equal(2);
    const droppedBefore = env.server.coordinator.tail.droppedSlowWatchers;

    const padding = { pad: "x".repeat(2_000) };
    const completions: string[] = [];
    let sent = 0;
    for (let round = 0; round < 8; round++) {
      const events = Array.from({ length: 100 }, (_, i) => {
        const e = event(EventKind.PROGRESS, `slow-${round}`, Date.now() + i);
        e.attributes = padding;
        return e;
      });
      events.push(event(EventKind.COMPLETED, `slow-${round}`, Date.now() + 100));
      // Every call is answered, every event stored: the slow watcher does not hold ingest back.
      await report("beta", events);
      completions.push(events.at(-1)!.eventId);
      sent += events.length;
    }
    await waitFor(async () => (await openWatchers()) === 1, { message: "the slow watcher dropped", timeoutMs: 10_000 });
    const last = event(EventKind.COMPLETED, "after-the-drop", Date.now());
    await report("beta", [last]);
    const seen = await other.until((e) => e.event!.eventId === last.eventId, "the other watcher goes on");
    expect(seen.map((e) => e.event!.eventId)).to.deep.equal([...completions, last.eventId]);

    // The slow client, reading at last: what its buffers held, then the status.
    await firstSlow;
    let received = 1;
    const end = await (async () => {
      try {
        for (let next = await slowCall.next(); !next.done; next = await slowCall.next()) received++;
        return "OK";
      } catch (error) {
        return `${Status[(error as ClientError).code]}: ${(error as ClientError).details}`;
      }
    })();
    expect(end).to.match(/^RESOURCE_EXHAUSTED: the watcher fell behind \(more than 200 events or 16 MiB waiting for it\) and was dropped rather than slow ingest; reconnect/);
    expect(received).to.be.below(sent);
    expect(env.server.coordinator.tail.droppedSlowWatchers - droppedBefore, "counted as dropped (mcpc_interaction_watchers_dropped_total)").to.equal(1);
  });

  it("serves buf curl (grpcurl-style debugging): the live header, then each event as JSON", async () => {
    const { token } = await createKey(env.server.coordinator.pool, { role: "operator", principal: "sre" });
    const curl = startBufCurl(["-v", "-H", `authorization: Bearer ${token}`, "-d", '{"mcpId": "alpha"}', `http://${env.server.address}/coordinator.v1.InteractionService/WatchInteractions`]);
    try {
      await waitFor(() => /Mcpc-Tail: live/i.test(curl.stderr()), { message: "buf curl shows the live header", timeoutMs: 20_000 });
      const e = event(EventKind.STARTED, "seen-by-curl", Date.now());
      await report("alpha", [e]);
      await waitFor(() => curl.stdout().includes(e.eventId), { message: "buf curl prints the event", timeoutMs: 10_000 });
      expect(curl.stdout()).to.contain('"interactionId": "seen-by-curl"').and.contain('"kind": "EVENT_KIND_STARTED"').and.contain('"mcpId": "alpha"');
    } finally {
      curl.stop();
    }
  });

  it("ends its watchers with UNAVAILABLE when the tail's database connection drops; new watchers start a new one", async () => {
    const w = watching(clients.operator);
    await w.live;
    const pool = env.server.coordinator.pool;
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '% event-tail'",
    );
    expect(rows[0]!.n).to.be.at.least(1);
    expect(await w.ended).to.deep.equal({ code: "UNAVAILABLE", details: "the live tail lost its database connection, so events may have been missed; reconnect" });

    const again = watching(clients.operator, { mcpId: "alpha" });
    await again.live;
    const e = event(EventKind.STARTED, "after-drop", Date.now());
    await report("alpha", [e]);
    await again.until((s) => s.event!.eventId === e.eventId, "an event after the reconnect");
  });
});

describe("WatchInteractions: announcing only while someone watches, and shutdown", function () {
  this.timeout(60_000);
  let env: Awaited<ReturnType<typeof serverWithClients>>;
  let listener: pg.Client;
  const received: Announcement[] = [];
  const markers: string[] = [];

  before(async () => {
    env = await serverWithClients(FAST);
    // The test's own LISTEN on the events channel: it sees what the writers announce.
    listener = new pg.Client({ connectionString: env.server.databaseUrl });
    await listener.connect();
    listener.on("notification", (message) => {
      const announcement = parseAnnouncement(message.payload);
      if (announcement) received.push(announcement);
      else markers.push(message.payload ?? "");
    });
    await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
  });
  after(async () => {
    await listener.end();
    await env.stop();
  });

  /**
   * Reports one event and says whether the writer announced it: a marker notified after the ack
   * arrives after the event's announcement, if there was one (notifications come in commit order).
   */
  async function announced(): Promise<boolean> {
    const e = event(EventKind.STARTED, "quiet", Date.now());
    const { acks } = await env.clients.alpha.reportInteractions({ events: [e] });
    expect(acks[0]!.status).to.equal(AckStatus.STORED);
    const marker = `marker-${e.eventId}`;
    await env.server.coordinator.pool.query("SELECT pg_notify($1, $2)", [EVENTS_CHANNEL, marker]);
    await waitFor(() => markers.includes(marker), { message: "the marker" });
    return received.some((a) => a.refs.some((r) => r.eventId === e.eventId));
  }

  it("sends no notification while nobody watches; a watcher turns them on, and the last one leaving turns them off", async () => {
    expect(await announced(), "nobody has watched yet").to.equal(false);
    expect(await announced()).to.equal(false);

    const w = watch(env.clients.operator, { interactionId: "nothing-matches" });
    await w.live;
    expect(await announced(), "announced once someone watches").to.equal(true);
    await w.cancel();
    const locks = async () =>
      (await env.server.coordinator.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock'
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0]!.n;
    await waitFor(async () => (await locks()) === 0, { message: "the watching lock released" });
    // The writers' answer ages out within the presence period: then nothing is announced again.
    await waitFor(async () => !(await announced()), { message: "announcements off again", timeoutMs: 5_000 });
  });

  it("ends its watchers with UNAVAILABLE at shutdown", async () => {
    const w = watch(env.clients.operator);
    await w.live;
    const stopping = env.server.coordinator.shutdown();
    expect(await w.ended).to.deep.equal({ code: "UNAVAILABLE", details: "the coordinator is shutting down; reconnect (to another replica)" });
    await stopping;
  });
});

describe("WatchInteractions: live only once every writer announces", function () {
  this.timeout(60_000);

  it("sends the headers only after the writers' cached answers expired, and then misses nothing", async () => {
    // Writers ask once a second and trust an answer 1.5 s: without the wait, an event sent right
    // after the headers would be stored by a statement still trusting "nobody watches".
    const env = await serverWithClients({ watch: { presence: { refreshMs: 1_000, validMs: 1_500 } } });
    try {
      for (let round = 0; round < 2; round++) {
        const started = performance.now();
        const w = watch(env.clients.operator, { mcpId: "alpha" });
        await w.live;
        expect(performance.now() - started, "the first watcher waits out the writers' answers").to.be.at.least(1_500);
        const e = event(EventKind.STARTED, `right-after-${round}`, Date.now());
        const { acks } = await env.clients.alpha.reportInteractions({ events: [e] });
        expect(acks[0]!.status).to.equal(AckStatus.STORED);
        await w.until((s) => s.event!.eventId === e.eventId, "the event sent right after the headers");
        // A second watcher of a tail already live is live at once.
        const second = watch(env.clients.operator);
        const secondStarted = performance.now();
        await second.live;
        expect(performance.now() - secondStarted).to.be.below(1_000);
        await Promise.all([w.cancel(), second.cancel()]);
        await waitFor(async () => (await env.clients.operator.getStats({})).ingest!.openWatchers === 0, { message: "all watchers gone" });
      }
    } finally {
      await env.stop();
    }
  });
});
