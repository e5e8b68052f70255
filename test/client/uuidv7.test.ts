/**
 * UUIDv7 event ids: format, embedded time, monotonic order, uniqueness.
 */
import { expect } from "chai";
import { uuidv7, uuidv7Time } from "../../src/client/uuidv7.js";

const FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("uuidv7", () => {
  it("has the canonical form, version 7 and the RFC 9562 variant", () => {
    for (let i = 0; i < 1000; i++) expect(uuidv7()).to.match(FORMAT);
  });

  it("carries the current time in its first 48 bits", () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    const time = uuidv7Time(id)!;
    expect(time).to.be.within(before, after + 1);
    expect(uuidv7Time("not-a-uuid")).to.equal(undefined);
  });

  it("strictly increases within one millisecond, across its counter overflow", () => {
    const fixed = Date.now() + 10_000;
    let previous = uuidv7(fixed);
    // 5,000 ids in "one" millisecond: more than the 12-bit counter holds, so the time advances.
    for (let i = 0; i < 5000; i++) {
      const next = uuidv7(fixed);
      expect(next > previous, `${next} > ${previous}`).to.equal(true);
      previous = next;
    }
    expect(uuidv7Time(previous)!).to.be.greaterThan(fixed);
  });

  it("keeps increasing when the clock steps back", () => {
    const first = uuidv7(Date.now() + 60_000);
    const second = uuidv7(Date.now() - 60_000);
    expect(second > first).to.equal(true);
  });

  it("makes no duplicates in 100,000 ids", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(uuidv7());
    expect(seen.size).to.equal(100_000);
  });
});
