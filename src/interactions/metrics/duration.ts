/**
 * Durations with sub-millisecond precision (protobuf-es's durationFromMs expects whole ms).
 */
import { create } from "@bufbuild/protobuf";
import { DurationSchema, type Duration } from "@bufbuild/protobuf/wkt";

/** A non-negative duration of `ms` milliseconds, to the nanosecond. */
export function durationFromFractionalMs(ms: number): Duration {
  const nanosTotal = Math.round(Math.max(0, ms) * 1e6);
  const seconds = Math.floor(nanosTotal / 1e9);
  return create(DurationSchema, { seconds: BigInt(seconds), nanos: nanosTotal - seconds * 1e9 });
}
