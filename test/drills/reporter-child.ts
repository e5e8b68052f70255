/**
 * An MCP process for the crash drills: reports `count` events (a STARTED and a COMPLETED per
 * interaction) as fast as it can through the real reporter, waits until all are acked, prints its
 * stats as one JSON line and exits 0 (or 1 when the flush timed out).
 *
 * Configuration comes as JSON in MCPC_DRILL: { address, apiKey, spoolDir, count, prefix, flushMs }.
 */
import { createReporter } from "../../src/client/index.js";

const config = JSON.parse(process.env.MCPC_DRILL!) as {
  address: string;
  apiKey: string;
  spoolDir: string;
  count: number;
  prefix: string;
  flushMs: number;
};

const reporter = createReporter({
  address: config.address,
  apiKey: config.apiKey,
  spoolDir: config.spoolDir,
  backoff: { initialMs: 50, maxMs: 1_000 },
});
let drains = 0;
reporter.on("drain", () => drains++);
reporter.on("connected", () => process.stdout.write("connected\n"));

for (let i = 0; i < config.count / 2; i++) {
  reporter.started(`${config.prefix}-${i}`, { requestType: "drill" });
  reporter.completed(`${config.prefix}-${i}`);
}
process.stdout.write("reported\n");
const flushed = await reporter.flush(config.flushMs);
const stats = reporter.stats();
await reporter.close(5_000);
process.stdout.write(`${JSON.stringify({ flushed, drains, ...stats })}\n`);
process.exit(flushed ? 0 : 1);
