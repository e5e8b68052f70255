/**
 * The durable spool, on a real file system: append, ack, replay after a crash, compaction, the
 * age and size bounds, and the lock.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { silentLogger } from "../../src/client/logger.js";
import { Spool, type SpoolOptions, type SpoolRecord } from "../../src/client/spool.js";
import { uuidv7 } from "../../src/client/uuidv7.js";

const MiB = 1024 * 1024;

function record(size = 100, enqueuedAt = Date.now()): SpoolRecord {
  return { eventId: uuidv7(), enqueuedAt, payload: Buffer.alloc(size, 7) };
}

describe("spool", () => {
  let dir: string;
  const open: Spool[] = [];
  const options = (extra: Partial<SpoolOptions> = {}): SpoolOptions => ({ maxBytes: 64 * MiB, maxAgeMs: 7 * 24 * 3600_000, logger: silentLogger, ...extra });

  function openSpool(extra: Partial<SpoolOptions> = {}, name = "mcp-a") {
    const opened = Spool.open(dir, name, options(extra));
    expect(opened, "spool opened").to.not.equal(undefined);
    open.push(opened!.spool);
    return opened!;
  }

  /** A "crash": the process forgets the spool without closing it or releasing its lock... */
  function crash(spool: Spool) {
    // ...and the next process finds a lock left by a pid that no longer exists.
    spool.close();
    fs.writeFileSync(`${spool.path}.lock`, JSON.stringify({ pid: deadPid(), token: "gone:gone" }));
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpc-spool-"));
  });
  afterEach(() => {
    for (const spool of open.splice(0)) spool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("appends events and replays the unacked ones, oldest first, after a crash", () => {
    const { spool, pending } = openSpool();
    expect(pending).to.deep.equal([]);
    const records = [record(10), record(20), record(30), record(40)];
    for (const r of records) expect(spool.append(r)).to.equal(true);
    spool.remove(records[1]!.eventId);
    spool.remove(records[3]!.eventId);
    expect(spool.stats().records).to.equal(2);
    crash(spool);

    const again = openSpool();
    expect(again.pending.map((r) => r.eventId)).to.deep.equal([records[0]!.eventId, records[2]!.eventId]);
    expect(Buffer.from(again.pending[1]!.payload)).to.deep.equal(Buffer.from(records[2]!.payload));
    expect(again.pending[0]!.enqueuedAt).to.equal(Math.floor(records[0]!.enqueuedAt));
  });

  it("writes synchronously: the file holds the event as soon as append returns", () => {
    const { spool } = openSpool();
    const r = record(5);
    spool.append(r);
    const text = fs.readFileSync(spool.path, "utf8");
    expect(text).to.contain(`E ${r.enqueuedAt} ${r.eventId} ${Buffer.from(r.payload).toString("base64")}\n`);
    spool.remove(r.eventId);
    expect(fs.readFileSync(spool.path, "utf8")).to.contain(`A ${r.eventId}\n`);
  });

  it("skips a torn last line left by a crash mid-write", () => {
    const { spool } = openSpool();
    const kept = record();
    spool.append(kept);
    crash(spool);
    fs.appendFileSync(spool.path, "E 123 0190-torn-li");
    const again = openSpool();
    expect(again.pending.map((r) => r.eventId)).to.deep.equal([kept.eventId]);
    expect(again.spool.stats().corrupt).to.equal(1);
    // The rewrite on open removed the torn line: new appends start on a clean line.
    const next = record();
    again.spool.append(next);
    crash(again.spool);
    expect(openSpool().pending.map((r) => r.eventId)).to.deep.equal([kept.eventId, next.eventId]);
  });

  it("compacts when acked records dominate, keeping only the pending ones", () => {
    const { spool } = openSpool();
    const keep = record(1000);
    spool.append(keep);
    // ~4 MB of events, all acked: the file must not grow with them.
    for (let i = 0; i < 3000; i++) {
      const r = record(1000);
      spool.append(r);
      spool.remove(r.eventId);
    }
    const size = fs.statSync(spool.path).size;
    expect(size).to.be.lessThan(512 * 1024);
    expect(spool.stats().bytes).to.equal(size);
    expect(spool.stats().records).to.equal(1);
    crash(spool);
    expect(openSpool().pending.map((r) => r.eventId)).to.deep.equal([keep.eventId]);
    expect(fs.existsSync(`${spool.path}.tmp`)).to.equal(false);
  });

  it("drops events older than maxAgeMs at replay and compaction", () => {
    let now = Date.now();
    const { spool } = openSpool({ now: () => now });
    const old = record(10, now - 10_000);
    const fresh = record(10, now);
    spool.append(old);
    spool.append(fresh);
    crash(spool);
    now += 1_000;
    const again = openSpool({ now: () => now, maxAgeMs: 5_000 });
    expect(again.pending.map((r) => r.eventId)).to.deep.equal([fresh.eventId]);
    expect(again.spool.stats().expired).to.equal(1);
    expect(fs.readFileSync(again.spool.path, "utf8")).not.to.contain(old.eventId);
  });

  it("never grows past maxBytes: an event that does not fit is not persisted (overflow)", () => {
    const maxBytes = 16 * 1024;
    const { spool } = openSpool({ maxBytes });
    let persisted = 0;
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      if (spool.append(record(500))) persisted++;
      else refused++;
    }
    expect(persisted).to.be.greaterThan(0);
    expect(refused).to.be.greaterThan(0);
    expect(spool.stats().overflowed).to.equal(refused);
    expect(fs.statSync(spool.path).size).to.be.at.most(maxBytes);
    // Acks make room again (compaction reclaims the acked records).
    const first = openSpoolRecords(spool.path)[0]!;
    spool.remove(first);
    expect(spool.append(record(500))).to.equal(true);
    expect(fs.statSync(spool.path).size).to.be.at.most(maxBytes);
  });

  it("lets only one holder use a spool file; a second one gets the next slot", () => {
    const first = openSpool();
    const second = openSpool();
    expect(second.spool.path).to.not.equal(first.spool.path);
    expect(path.basename(second.spool.path)).to.equal("mcp-a-1.spool");
  });

  it("is refused to a live process holding the lock (another process)", () => {
    const first = openSpool();
    const child = spawnSync(
      process.execPath,
      ["--import", "tsx", "-e", `
        import { Spool } from ${JSON.stringify(path.resolve("src/client/spool.ts"))};
        const opened = Spool.open(${JSON.stringify(dir)}, "mcp-a", { maxBytes: 1e6, maxAgeMs: 1e9, logger: { debug() {}, info() {}, warn() {}, error() {} } });
        console.log(opened.spool.path);
        opened.spool.close();
      `],
      { encoding: "utf8" },
    );
    expect(child.stderr).to.equal("");
    expect(child.stdout.trim()).to.equal(path.join(dir, "mcp-a-1.spool"));
    expect(first.spool.path).to.equal(path.join(dir, "mcp-a.spool"));
  });

  it("takes over a stale lock left by a dead process, and replays its events", () => {
    const { spool } = openSpool();
    const r = record();
    spool.append(r);
    crash(spool);
    const again = openSpool();
    expect(again.spool.path).to.equal(spool.path);
    expect(again.pending.map((p) => p.eventId)).to.deep.equal([r.eventId]);
    expect(JSON.parse(fs.readFileSync(`${spool.path}.lock`, "utf8")).pid).to.equal(process.pid);
  });

  it("takes over a lock with our own pid from an earlier incarnation (container restart)", () => {
    const { spool } = openSpool();
    spool.close();
    fs.writeFileSync(`${spool.path}.lock`, JSON.stringify({ pid: process.pid, token: "previous-life:x" }));
    expect(openSpool().spool.path).to.equal(spool.path);
  });

  it("releases the lock on close", () => {
    const { spool } = openSpool();
    spool.close();
    expect(fs.existsSync(`${spool.path}.lock`)).to.equal(false);
    expect(openSpool().spool.path).to.equal(spool.path);
  });
});

/** The pending event ids in a spool file, read independently of the Spool class. */
function openSpoolRecords(file: string): string[] {
  const pending = new Map<string, true>();
  for (const line of fs.readFileSync(file, "utf8").split("\n").slice(1)) {
    const [type, a, b] = line.split(" ");
    if (type === "E" && b) pending.set(b, true);
    if (type === "A" && a) pending.delete(a);
  }
  return [...pending.keys()];
}

/** A pid that is not running: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  return Number(child.stdout.trim());
}
