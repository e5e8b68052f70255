/**
 * The CPU budget behind the throughput ratio: what each event costs each process (µs of CPU),
 * and what that allows on this machine. On one machine the load generator, the server and
 * PostgreSQL share the same cores, and the echo ceiling pays no database CPU; so the durable
 * server can reach a share of echo only if its whole per-event cost (load generator + server +
 * PostgreSQL) fits the machine's cores at that share of the echo rate. This prints whether it can.
 */
import os from "node:os";
import { int, percent, table } from "./report.js";
import type { Run } from "./results.js";

/** µs of CPU per event, by process. */
interface PerEvent {
  client: number;
  server: number;
  postgres: number;
  total: number;
}

function perEvent(run: Run): PerEvent {
  const us = (share: number) => (Number.isFinite(share) ? (share * 1e6) / run.eventsPerSecond : 0);
  const client = us(run.clientCpu);
  const server = us(run.serverCpu);
  const postgres = us(run.postgresCpu);
  return { client, server, postgres, total: client + server + postgres };
}

/**
 * The budget at one stream count: per-event costs of echo and durable, the cost the target share
 * allows, and the best share of echo the machine could give if every core were busy all the time.
 */
export function cpuBudget(durable: Run, echo: Run, targetShare: number, cores = os.cpus().length): string[] {
  const d = perEvent(durable);
  const e = perEvent(echo);
  const us = (n: number) => `${n.toFixed(1)} µs`;
  // Every core busy: events/s = cores / (CPU s per event).
  const bestDurable = (cores * 1e6) / d.total;
  const allowed = (cores * 1e6) / (targetShare * echo.eventsPerSecond);
  const storing = d.server + d.postgres - e.server;
  return [
    `CPU PER EVENT at ${durable.streams} streams (µs of CPU per event; ${cores} cores shared by every process)`,
    table(
      ["system", "load generator", "server", "PostgreSQL", "total", "events/s", "cores busy"],
      [
        ["echo (a)", us(e.client), us(e.server), us(e.postgres), us(e.total), int(echo.eventsPerSecond), percent((e.total * echo.eventsPerSecond) / 1e6)],
        ["durable", us(d.client), us(d.server), us(d.postgres), us(d.total), int(durable.eventsPerSecond), percent((d.total * durable.eventsPerSecond) / 1e6)],
      ],
    ),
    `storing costs ${us(storing)} per event more than echo (server ${us(d.server - e.server)}, PostgreSQL ${us(d.postgres)}).`,
    `${percent(targetShare)} of echo (${int(targetShare * echo.eventsPerSecond)} events/s) allows ${us(allowed)} of CPU per event in all;` +
      ` durable needs ${us(d.total)}. With every core busy, durable could reach ${int(bestDurable)} events/s,` +
      ` ${percent(bestDurable / echo.eventsPerSecond)} of echo.`,
  ];
}
