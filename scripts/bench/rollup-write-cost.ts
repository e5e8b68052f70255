/**
 * What the rollups cost PostgreSQL per event stored, measured on the writer's statement alone:
 * backend CPU (from /proc) of storeBatch with the rollups on (the schema as migrated, the
 * statement's queue step) against off (the queue step left out, the trigger
 * interactions_rollup_moved and the index interactions_mcp_ended_idx dropped), then the rollup
 * job's CPU to recompute every minute the "on" lanes queued.
 *
 * Why not throughput: on this VM one ingest round varies by up to 30%, far more than the few
 * microseconds in question. Here each setting has two lanes (a database of its own in one embedded
 * cluster, one connection each), and every round stores one batch in every lane, in alternating
 * order, so a drift of the machine's speed hits all lanes alike. Batches are shaped like ingest's:
 * 100 streams (one MCP each) contribute 4 consecutive events each (STARTED, PROGRESS, COMPLETED
 * in turn), so an interaction's events are often split between two batches.
 *
 *   node --import tsx scripts/bench/rollup-write-cost.ts [rounds, default 500]
 *
 * Linux only (reads /proc); an embedded cluster of its own (DATABASE_URL is ignored).
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { RollupJob } from "../../src/interactions/rollups/rollup-job.js";
import { storeBatch, type EventRow } from "../../src/interactions/writer-queries.js";
import { createLogger } from "../../src/logger.js";
import { openBenchDatabase } from "./database.js";

const ROUNDS = Number(process.argv[2] ?? 500);
const STREAMS = 100;
const PER_STREAM = 4;
const PAYLOAD = new Uint8Array(110).fill(7);

type Setting = "off" | "on";

/** One database and connection, storing the batches of one setting. */
interface Lane {
  setting: Setting;
  database: string;
  pool: pg.Pool;
  client: pg.PoolClient;
  backendPid: number;
  next: () => EventRow[];
  cpuMs: number;
  events: number;
}

/** CPU ms (user + system) a process has used so far. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A generator of ingest-shaped batches whose ids are unique to `tag`. */
function batches(tag: string): () => EventRow[] {
  const sent = new Array<number>(STREAMS).fill(0);
  return () => {
    const rows: EventRow[] = [];
    for (let stream = 0; stream < STREAMS; stream++) {
      for (let i = 0; i < PER_STREAM; i++) {
        const n = sent[stream]!++;
        const kind = (n % 3) + 1;
        rows.push({
          mcpId: `bench-${String(stream).padStart(4, "0")}`,
          eventId: `${tag}-${stream}-${n}`,
          interactionId: `${tag}-${stream}-i${Math.floor(n / 3)}`,
          sessionId: "",
          kind,
          occurredAtMs: Date.now(),
          streamId: "4b1f7c5e-0000-4000-8000-000000000000",
          seq: BigInt(n + 1),
          payload: PAYLOAD,
          requestType: kind === 1 ? "search" : null,
          userId: kind === 1 ? `bench-user-${n % 10_000}` : null,
          progress: kind === 2 ? PAYLOAD.subarray(0, 10) : null,
          success: kind === 3 ? true : null,
          errorCode: kind === 3 ? "" : null,
          errorMessage: kind === 3 ? "" : null,
          reportedProcessingMs: kind === 3 ? 42 : null,
        });
      }
    }
    return rows;
  };
}

function urlOf(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

const bench = await openBenchDatabase(1);
const template = new URL(bench.url).pathname.slice(1);
await bench.pool.end();
const admin = new pg.Client({ connectionString: urlOf(bench.url, "postgres") });
await admin.connect();
const lanes: Lane[] = [];
try {
  for (const [i, setting] of (["off", "on", "off", "on"] as const).entries()) {
    const database = `rollup_cost_${i}`;
    await admin.query(`CREATE DATABASE ${database} TEMPLATE ${template}`);
    const pool = new pg.Pool({ connectionString: urlOf(bench.url, database), max: 1 });
    const client = await pool.connect();
    if (setting === "off") await client.query("DROP TRIGGER interactions_rollup_moved ON interactions; DROP INDEX interactions_mcp_ended_idx");
    const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    lanes.push({ setting, database, pool, client, backendPid: rows[0]!.pid, next: batches(`lane${i}`), cpuMs: 0, events: 0 });
  }
  const store = (lane: Lane, rows: EventRow[]) => storeBatch(lane.client, rows, { queueRollups: lane.setting === "on" });
  // Warm-up: plans prepared, first pages allocated.
  for (const lane of lanes) for (let i = 0; i < 10; i++) await store(lane, lane.next());
  await admin.query("CHECKPOINT");
  console.log(`${ROUNDS} rounds of one ${STREAMS * PER_STREAM}-event batch per lane...`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const lane of round % 2 === 0 ? lanes : [...lanes].reverse()) {
      const rows = lane.next();
      const before = cpuMs(lane.backendPid);
      await store(lane, rows);
      lane.cpuMs += cpuMs(lane.backendPid) - before;
      lane.events += rows.length;
    }
  }
  const perEvent = (setting: Setting) => {
    const of = lanes.filter((l) => l.setting === setting);
    return (1000 * of.reduce((sum, l) => sum + l.cpuMs, 0)) / of.reduce((sum, l) => sum + l.events, 0);
  };
  const off = perEvent("off");
  const on = perEvent("on");
  // The job: every queued minute of the "on" lanes, recomputed once (live ingest recomputes a
  // filling minute about once more, see RollupOptions.settleMs).
  let jobMs = 0;
  let jobEvents = 0;
  for (const lane of lanes.filter((l) => l.setting === "on")) {
    const pool = new pg.Pool({ connectionString: urlOf(bench.url, lane.database), max: 1 });
    const client = await pool.connect();
    const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    client.release();
    const before = cpuMs(rows[0]!.pid);
    await new RollupJob(pool, createLogger("warn"), { settleMs: 0 }).runOnce();
    jobMs += cpuMs(rows[0]!.pid) - before;
    jobEvents += lane.events;
    await pool.end();
  }
  console.log(`PostgreSQL backend CPU per event stored (${lanes[0]!.events.toLocaleString("en-US")} events per lane, two lanes per setting):`);
  console.log(`  writer's statement, rollups off  ${off.toFixed(2)} µs`);
  console.log(`  writer's statement, rollups on   ${on.toFixed(2)} µs  (+${(on - off).toFixed(2)} µs)`);
  console.log(`  rollup job, each minute once     ${((1000 * jobMs) / jobEvents).toFixed(2)} µs`);
} finally {
  for (const lane of lanes) {
    lane.client.release();
    await lane.pool.end();
  }
  for (const lane of lanes) await admin.query(`DROP DATABASE IF EXISTS ${lane.database} WITH (FORCE)`);
  await admin.end();
  await bench.close();
}
