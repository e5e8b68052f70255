/**
 * The decision counts behind mcpc_decisions: one query per cache period however many scrapes,
 * a failure reported as "no value" (and cached too), a slow database not waited for.
 */
import { expect } from "chai";
import type { Pool } from "pg";
import { DecisionCounts } from "../../src/metrics/decision-counts.js";
import { testLogger } from "../support/logger.js";

/** A stand-in pool whose query answers with `answer()` and counts its calls. */
function fakePool(answer: () => Promise<{ rows: { status: number; count: string }[] }>) {
  const pool = { calls: 0, query: () => (pool.calls++, answer()) };
  return pool;
}

describe("decision counts for metrics", () => {
  it("counts every status, and asks the database once per cache period, even for concurrent scrapes", async () => {
    const pool = fakePool(async () => ({ rows: [{ status: 1, count: "3" }, { status: 4, count: "2" }] }));
    const counts = new DecisionCounts(pool as unknown as Pool, testLogger(), { ttlMs: 200 });
    const [a, b] = await Promise.all([counts.read(), counts.read()]);
    expect(Object.fromEntries(a!)).to.deep.equal({ pending: 3, completed: 0, expired: 0, cancelled: 2 });
    expect(b).to.equal(a);
    await counts.read();
    expect(pool.calls).to.equal(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await counts.read();
    expect(pool.calls).to.equal(2);
  });

  it("reports nothing when the query fails or is too slow, and does not pile up queries", async () => {
    const failing = fakePool(() => Promise.reject(new Error("database down")));
    const broken = new DecisionCounts(failing as unknown as Pool, testLogger(), { ttlMs: 10_000 });
    expect(await broken.read()).to.equal(undefined);
    expect(await broken.read()).to.equal(undefined);
    expect(failing.calls).to.equal(1);

    let release: () => void = () => undefined;
    const hanging = fakePool(() => new Promise((resolve) => (release = () => resolve({ rows: [] }))));
    const slow = new DecisionCounts(hanging as unknown as Pool, testLogger(), { ttlMs: 10_000, timeoutMs: 50 });
    expect(await slow.read()).to.equal(undefined);
    expect(await slow.read()).to.equal(undefined);
    expect(hanging.calls).to.equal(1);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect((await slow.read())!.get("pending")).to.equal(0);
  });
});
