/**
 * How a metrics period splits into rollup rows: the pieces tile the period exactly, each is
 * aligned to its grain (from the Unix epoch, as the rollup job's date_bin() has them), and the
 * coarsest grain that fits is used, so a 30-day period reads few rows.
 */
import { expect } from "chai";
import { hourlyPieces, summaryPieces, type RollupPiece } from "../../src/interactions/metrics/metrics-period.js";
import { ROLLUP_GRAINS } from "../../src/interactions/rollups/grains.js";
import { seededRandom } from "../support/random.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const LENGTH = new Map(ROLLUP_GRAINS.map((g) => [g.name, g.ms]));

/** Rows a piece covers. */
const rows = (p: RollupPiece) => (p.to.getTime() - p.from.getTime()) / LENGTH.get(p.grain)!;

function expectTiles(pieces: RollupPiece[], start: number, end: number) {
  const sorted = [...pieces].sort((a, b) => a.from.getTime() - b.from.getTime());
  let at = start;
  for (const piece of sorted) {
    expect(piece.from.getTime(), `piece ${piece.grain} starts where the previous ended`).to.equal(at);
    expect(piece.to.getTime()).to.be.greaterThan(piece.from.getTime());
    const length = LENGTH.get(piece.grain)!;
    for (const edge of [piece.from, piece.to]) expect(edge.getTime() % length, `${piece.grain} edge ${edge.toISOString()} aligned`).to.equal(0);
    at = piece.to.getTime();
  }
  expect(at).to.equal(end);
}

describe("metrics period pieces", () => {
  it("tile random periods exactly with aligned pieces", () => {
    const rand = seededRandom(7);
    const base = Date.UTC(2026, 10, 22);
    for (let i = 0; i < 2000; i++) {
      const start = base - Math.floor(rand() * 60 * 24 * 60) * MINUTE;
      const end = start + (1 + Math.floor(rand() * 31 * 24 * 60)) * MINUTE;
      const period = { start: new Date(start), end: new Date(end) };
      const pieces = summaryPieces(period);
      expectTiles(pieces, start, end);
      // At most one bucket of each doubling grain per edge (two of 8 hours below a day), and
      // under an hour of minutes per edge.
      const above = pieces.filter((p) => p.grain !== "minute").reduce((n, p) => n + rows(p), 0);
      expect(above, "rows above the minute").to.be.at.most(2 * (ROLLUP_GRAINS.length - 1) + 2);
      expect(pieces.filter((p) => p.grain === "minute").reduce((n, p) => n + rows(p), 0)).to.be.below(120);
      const hourly = hourlyPieces(period);
      expectTiles(hourly, start, end);
      expect(hourly.every((p) => p.grain === "minute" || p.grain === "hour"), "hourly pieces are minutes and hours").to.equal(true);
    }
  });

  it("read 30 days as the coarsest buckets in the middle and finer ones towards the edges", () => {
    // 2026-10-22 12:34 to 2026-11-21 12:34 UTC. Day 20,748 since the epoch is 2026-10-22, so the
    // 16-day buckets start on days 20,736 (Oct 10) and 20,752 (Oct 26), the 8-day ones on Nov 11 and so on.
    const start = Date.UTC(2026, 9, 22, 12, 34);
    const end = start + 30 * DAY;
    const pieces = summaryPieces({ start: new Date(start), end: new Date(end) });
    const described = pieces.map((p) => `${p.grain} ${p.from.toISOString().slice(5, 16)}..${p.to.toISOString().slice(5, 16)}`);
    expect(described).to.have.members([
      "minute 10-22T12:34..10-22T13:00",
      "hour 10-22T13:00..10-22T14:00",
      "2 hours 10-22T14:00..10-22T16:00",
      "8 hours 10-22T16:00..10-23T00:00",
      "day 10-23T00:00..10-24T00:00",
      "2 days 10-24T00:00..10-26T00:00",
      "16 days 10-26T00:00..11-11T00:00",
      "8 days 11-11T00:00..11-19T00:00",
      "2 days 11-19T00:00..11-21T00:00",
      "8 hours 11-21T00:00..11-21T08:00",
      "4 hours 11-21T08:00..11-21T12:00",
      "minute 11-21T12:00..11-21T12:34",
    ]);
  });
});
