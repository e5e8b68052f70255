/**
 * UUIDv7 (RFC 9562) event ids: a 48-bit Unix-millisecond timestamp, then random bits, so ids sort
 * by creation time (the coordinator's indexes like that) and never collide across processes.
 *
 * Written here rather than taken from a package: it is 40 lines, and the `uuid` package's v7 would
 * be the only reason to add a dependency to every MCP that embeds the reporter.
 *
 * Monotonic within one process (RFC 9562 §6.2, method 1): the 12-bit `rand_a` field is a counter
 * that starts at a random value in the lower half of its range each millisecond and counts up for
 * every further id in that millisecond; if it overflows, or the clock steps back, the timestamp is
 * advanced by one millisecond past the last one used. So ids from one process always increase.
 */
import { randomFillSync } from "node:crypto";

const RANDOM_POOL_SIZE = 8 * 256;
const pool = Buffer.allocUnsafe(RANDOM_POOL_SIZE);
let poolOffset = RANDOM_POOL_SIZE;

let lastMs = -1;
let counter = 0;

/** Eight random bytes from a refilled pool (one getrandom call per 256 ids, not one per id). */
function random8(): Buffer {
  if (poolOffset + 8 > RANDOM_POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 8);
  poolOffset += 8;
  return bytes;
}

/**
 * Returns a new UUIDv7 in canonical text form (`xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx`, lower case).
 * Each value is greater (as a string and as bytes) than every value returned before it by this
 * process.
 *
 * @param nowMs - the current time in ms; for tests only.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const rand = random8();
  if (nowMs > lastMs) {
    lastMs = nowMs;
    counter = ((rand[0]! << 8) | rand[1]!) & 0x7ff; // lower half: room to count up
  } else {
    counter += 1;
    if (counter > 0xfff) {
      lastMs += 1;
      counter = ((rand[0]! << 8) | rand[1]!) & 0x7ff;
    }
  }
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (rand[2]! & 0x3f); // variant 10xx
  rand.copy(bytes, 9, 3, 8);
  // Two more random bytes complete rand_b's 62 bits.
  const extra = random8();
  bytes[14] = extra[0]!;
  bytes[15] = extra[1]!;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The millisecond timestamp stored in a UUIDv7 (undefined if `id` is not a UUIDv7). */
export function uuidv7Time(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
