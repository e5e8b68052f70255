/**
 * Test fixture run as a separate process: starts the embedded PostgreSQL of the data directory
 * given as argv[2], prints "ready", then idles until killed. embedded.test.ts kills it with SIGKILL
 * to leave an orphaned server behind, as a crashed coordinator would.
 */
import { startEmbeddedPostgres } from "../../src/store/embedded.js";
import { testLogger } from "./logger.js";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: embedded-child.ts <dataDir>");
await startEmbeddedPostgres({ dataDir, logger: testLogger(), settings: { fsync: "off" } });
process.stdout.write("ready\n");
setInterval(() => undefined, 60_000);
